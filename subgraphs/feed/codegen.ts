import { subgraphCodegen } from '../../scripts/codegen-config.ts';

export default subgraphCodegen('feed', {
  Notification: '../notifications.repository.ts#NotificationRecord',
  Post: '../feed.service.ts#PostRef',
});
