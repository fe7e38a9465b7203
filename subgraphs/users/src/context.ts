import type { Identity } from '@insta/infra';
import type { AuthService } from './auth.service.ts';
import type { Loaders } from './loaders.ts';
import type { UsersService } from './users.service.ts';

export interface Context {
  identity: Identity | null;
  loaders: Loaders;
  auth: AuthService;
  users: UsersService;
}
