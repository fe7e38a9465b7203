import type { InternalClient } from '@insta/infra';

export interface UserSummary {
  id: string;
  username: string;
}

const USERS_BY_USERNAMES = /* GraphQL */ `
  query UsersByUsernames($usernames: [String!]!) {
    usersByUsernames(usernames: $usernames) {
      id
      username
    }
  }
`;

export function usersClient(client: InternalClient) {
  return {
    /** Existing users among these (lower-case) usernames; at most 100 names. */
    async byUsernames(usernames: readonly string[]): Promise<UserSummary[]> {
      const data = await client.query<{ usersByUsernames: UserSummary[] }>(USERS_BY_USERNAMES, { usernames });
      return data.usersByUsernames;
    },
    /** Ids of the existing users among these names, in the order given; unknown names are left out. */
    async idsOf(usernames: readonly string[]): Promise<string[]> {
      if (usernames.length === 0) return [];
      const found = new Map((await this.byUsernames(usernames)).map((u) => [u.username, u.id]));
      return usernames.flatMap((name) => found.get(name) ?? []);
    },
  };
}
export type UsersClient = ReturnType<typeof usersClient>;
