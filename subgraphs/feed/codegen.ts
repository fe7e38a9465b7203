import { subgraphCodegen } from '../../scripts/codegen-config.ts';

export default subgraphCodegen('feed');
