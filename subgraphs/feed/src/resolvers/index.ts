import { DateTimeScalar } from '@insta/infra';
import type { Resolvers } from '../generated/graphql.ts';
import { Mutation } from './mutation.ts';
import { Notification } from './notification.ts';
import { Query } from './query.ts';

export const resolvers: Resolvers = { DateTime: DateTimeScalar, Query, Mutation, Notification };
