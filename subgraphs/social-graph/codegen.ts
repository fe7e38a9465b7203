import { subgraphCodegen } from '../../scripts/codegen-config.ts';

export default subgraphCodegen('social-graph', { User: '../social.repository.ts#UserRef' });
