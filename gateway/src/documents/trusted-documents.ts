import type { ApolloServerPlugin } from '@apollo/server';
import { z } from 'zod';
import { ErrorCode } from '@insta/infra';
import type { GatewayContext } from '../context.ts';
import { graphql } from '../graphql-runtime.ts';
import { readManifest, sha256Hex, type Manifest } from './manifest.ts';

/** The gateway's trusted-documents setting (README: "Security"). */
export const trustedDocumentsEnv = {
  /** A manifest written by `npm run documents -- register`: when set, only its operations are accepted. */
  TRUSTED_DOCUMENTS_PATH: z.string().optional(),
};

const APQ_PREFIX = 'apq:';

function notTrusted() {
  return new graphql.GraphQLError('Only registered operations are accepted here', {
    extensions: { code: ErrorCode.PersistedQueryNotInList, http: { status: 400 } },
  });
}

/**
 * A safelist of operations (sha256 → text). Clients send the hash alone (APQ's `extensions.persistedQuery`) or
 * the full text; anything else is refused with PERSISTED_QUERY_NOT_IN_LIST, and APQ cannot register new ones.
 */
export class TrustedDocuments {
  private constructor(private readonly documents: ReadonlyMap<string, string>) {}

  static async load(path: string): Promise<TrustedDocuments> {
    return TrustedDocuments.of(await readManifest(path));
  }

  static of(manifest: Manifest): TrustedDocuments {
    return new TrustedDocuments(new Map(Object.entries(manifest.documents)));
  }

  get size() {
    return this.documents.size;
  }

  /** For operations that do not pass through Apollo Server (subscriptions over websockets). */
  check(query: string): void {
    if (!this.documents.has(sha256Hex(query))) throw notTrusted();
  }

  /** Apollo Server's persisted-query store, answering from the manifest and never storing more. */
  persistedQueries() {
    const documents = this.documents;
    return {
      cache: {
        get: async (key: string) =>
          key.startsWith(APQ_PREFIX) ? documents.get(key.slice(APQ_PREFIX.length)) : undefined,
        set: async () => {},
        delete: async () => false,
      },
    };
  }

  /** Refuses unregistered operations of clients; the gateway's own operations (no `client`) pass. */
  plugin(): ApolloServerPlugin<GatewayContext> {
    const documents = this.documents;
    return {
      requestDidStart: async () => ({
        didResolveOperation: async ({ contextValue, queryHash }) => {
          if (contextValue.client && !documents.has(queryHash)) throw notTrusted();
        },
      }),
    };
  }
}
