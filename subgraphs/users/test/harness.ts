import { startSubgraphHarness } from '@insta/test-support';
import { loadUsersConfig } from '../src/config.ts';
import { startUsersSubgraph } from '../src/server.ts';

export const startUsersHarness = (env: Record<string, string> = {}) =>
  startSubgraphHarness({ name: 'users', loadConfig: loadUsersConfig, start: startUsersSubgraph, env });
export type UsersHarness = Awaited<ReturnType<typeof startUsersHarness>>;

export const SIGN_UP = /* GraphQL */ `
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) { accessToken refreshToken accessTokenExpiresAt user { id username displayName isPrivate createdAt } }
  }`;
export const SIGN_IN = /* GraphQL */ `
  mutation SignIn($input: SignInInput!) { signIn(input: $input) { accessToken refreshToken user { id username } } }`;
export const REFRESH = /* GraphQL */ `
  mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { accessToken refreshToken user { id } } }`;

let counter = 0;
/** A valid, unique sign-up input. */
export function newUser(overrides: Partial<{ username: string; email: string; password: string; displayName: string }> = {}) {
  counter++;
  const tag = `${process.pid.toString(36)}${counter}`;
  return { username: `user_${tag}`, email: `user_${tag}@example.com`, password: 'correct horse battery', displayName: `User ${tag}`, ...overrides };
}
