import { subgraphCodegen } from '../../scripts/codegen-config.ts';

export default subgraphCodegen('users', { User: '../users.repository.ts#UserRecord' });
