import { DateTimeScalar } from '@insta/infra';
import type { Resolvers } from '../generated/graphql.ts';
import { Media, MediaVariant } from './media.ts';
import { Mutation } from './mutation.ts';
import { Query } from './query.ts';

export const resolvers: Resolvers = { DateTime: DateTimeScalar, Query, Mutation, Media, MediaVariant };
