import { subgraphCodegen } from '../../scripts/codegen-config.ts';

export default subgraphCodegen('media', {
  Media: '../media.repository.ts#MediaRecord',
  MediaSummary: '../media.repository.ts#MediaRecord',
  MediaVariant: '../media.repository.ts#VariantRecord',
  UploadTicket: '../media.service.ts#UploadTicketRecord',
});
