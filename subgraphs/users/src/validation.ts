import { z } from 'zod';
import { badUserInput } from '@insta/infra';

export const USERNAME = /^[a-z0-9_]{3,30}$/;

export const signUpSchema = z.object({
  username: z
    .string()
    .trim()
    .toLowerCase()
    .regex(USERNAME, 'Username must be 3–30 characters of a–z, 0–9 and _'),
  email: z.string().trim().toLowerCase().max(254).pipe(z.email('Email address is not valid')),
  password: z
    .string()
    .min(8, 'Password must be at least 8 characters')
    .max(128, 'Password must be at most 128 characters'),
  displayName: z.string().trim().max(64, 'Display name must be at most 64 characters').nullish(),
});

/** The longest login (an e-mail address) and password worth a database lookup and an argon2 hash. */
export const signInSchema = z.object({
  login: z
    .string()
    .trim()
    .toLowerCase()
    .min(1, 'Login must not be empty')
    .max(254, 'Login must be at most 254 characters'),
  password: z.string().max(128, 'Password must be at most 128 characters'),
});

export const updateProfileSchema = z.object({
  displayName: z.string().trim().max(64, 'Display name must be at most 64 characters').nullish(),
  bio: z.string().trim().max(300, 'Bio must be at most 300 characters').nullish(),
  avatarMediaId: z.uuid('avatarMediaId is not a media id').nullish(),
  isPrivate: z.boolean().nullish(),
});

export const searchQuerySchema = z
  .string()
  .trim()
  .toLowerCase()
  .min(1, 'Search query must not be empty')
  .max(64, 'Search query must be at most 64 characters');

/** Parses client input; the first problem becomes a BAD_USER_INPUT naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, fieldPrefix = ''): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = [fieldPrefix, ...issue.path.map(String)].filter(Boolean).join('.');
  throw badUserInput(issue.message, field || undefined);
}

