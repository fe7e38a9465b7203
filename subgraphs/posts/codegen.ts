import { subgraphCodegen } from '../../scripts/codegen-config.ts';

export default subgraphCodegen('posts', {
  Post: '../posts.repository.ts#PostRecord',
  Comment: '../comments.repository.ts#CommentRecord',
  User: '../posts.service.ts#UserRef',
});
