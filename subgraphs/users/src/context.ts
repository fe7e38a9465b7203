import type { Identity } from '@insta/infra';
import type { AuthService } from './auth.service.ts';
import type { Loaders } from './loaders.ts';
import type { UsersService } from './users.service.ts';

export interface Context {
  identity: Identity | null;
  /** The client address the gateway resolved (`x-client-ip`), for sign-in limits. */
  clientIp: string;
  loaders: Loaders;
  auth: AuthService;
  users: UsersService;
}
