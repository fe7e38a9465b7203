import { DateTimeScalar } from '@insta/infra';
import type { Resolvers } from '../generated/graphql.ts';
import { Comment } from './comment.ts';
import { Mutation } from './mutation.ts';
import { Post } from './post.ts';
import { Query } from './query.ts';
import { User } from './user.ts';

export const resolvers: Resolvers = { DateTime: DateTimeScalar, Query, Mutation, Post, Comment, User };
