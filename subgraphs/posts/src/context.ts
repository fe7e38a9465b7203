import type { Identity } from '@insta/infra';
import type { AudienceService } from './audience.service.ts';
import type { CommentsService } from './comments.service.ts';
import type { Loaders } from './loaders.ts';
import type { PostsService } from './posts.service.ts';

export interface Context {
  identity: Identity | null;
  loaders: Loaders;
  posts: PostsService;
  comments: CommentsService;
  audience: AudienceService;
}
