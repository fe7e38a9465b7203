import { subgraphCodegen } from '../../scripts/codegen-config.ts';

export default subgraphCodegen('posts', { Post: '../posts.repository.ts#PostRecord' });
