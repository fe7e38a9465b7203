import { subgraphCodegen } from '../../scripts/codegen-config.ts';

export default subgraphCodegen('media', { Media: '../media.repository.ts#MediaRecord' });
