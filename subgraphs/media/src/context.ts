import type { Identity } from '@insta/infra';
import type { Loaders } from './loaders.ts';

export interface Context {
  identity: Identity | null;
  loaders: Loaders;
}
