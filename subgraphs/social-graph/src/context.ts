import type { Identity } from '@insta/infra';
import type { Loaders } from './loaders.ts';
import type { SocialService } from './social.service.ts';

export interface Context {
  identity: Identity | null;
  loaders: Loaders;
  social: SocialService;
}
