import { TransientError, type InternalClient } from '@insta/infra';

/** What the owner of accounts (users) says about one: the replica's columns, versioned by `updatedAt`. */
export interface AccountState {
  userId: string;
  isPrivate: boolean;
  updatedAt: Date;
}

/** Where a replica miss is answered: the users subgraph in production; tests may stand in for it. */
export interface AccountSource {
  /** Unknown ids are left out; at most 500 ids. Rejects (transiently) when the owner cannot be asked. */
  accountStates(ids: readonly string[]): Promise<AccountState[]>;
}

const ACCOUNT_STATES = /* GraphQL */ `
  query AccountStates($ids: [ID!]!) {
    accountStates(ids: $ids) {
      userId
      isPrivate
      updatedAt
    }
  }
`;

export function usersAccountSource(client: InternalClient): AccountSource {
  return {
    async accountStates(ids) {
      const data = await client.query<{ accountStates: { userId: string; isPrivate: boolean; updatedAt: string }[] }>(
        ACCOUNT_STATES,
        { ids },
      );
      return data.accountStates.map((a) => ({ ...a, updatedAt: new Date(a.updatedAt) }));
    },
  };
}

/**
 * An AccountSource that is handed the real one later: users asks media, media asks social-graph and social-graph
 * asks users, so where ports are only known once a server listens (embedded mode on port 0, tests) social-graph
 * starts before users. Until `bind`, a replica miss fails transiently (and is retried), as with users down.
 */
export function lateAccountSource(): AccountSource & { bind(source: AccountSource): void } {
  let bound: AccountSource | undefined;
  return {
    accountStates: (ids) =>
      bound ? bound.accountStates(ids) : Promise.reject(new TransientError('users is not listening yet')),
    bind: (source) => {
      bound = source;
    },
  };
}
