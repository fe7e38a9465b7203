import type { ApolloServerPlugin } from '@apollo/server';
import type { DocumentNode, GraphQLFormattedError } from 'graphql';
import { BREAK, visit } from 'graphql';
import { ErrorCode } from '@insta/infra';
import { graphql } from '../graphql-runtime.ts';

/**
 * Checks every operation's input before it reaches a subgraph, whatever field it is for:
 * - no NUL character in any string, literal or variable (Postgres refuses them in text, so a subgraph would
 *   answer INTERNAL_SERVER_ERROR with the database's message): BAD_USER_INPUT naming the variable path.
 */
const NUL = '\u0000';

/** Where a NUL byte is in the variables (`input.text`, `ids.2`), or null. */
function nulInValue(value: unknown, path: string): string | null {
  if (typeof value === 'string') return value.includes(NUL) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulInValue(value[i], `${path}.${i}`);
      if (found) return found;
    }
    return null;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      // A NUL in an input object's key is an unknown field: graphql-js reports it without touching a subgraph.
      const found = nulInValue(inner, `${path}.${key}`);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Documents already scanned: Apollo Server's document store hands every request of a known query the same parsed
 * DocumentNode, whose literals cannot change, so its walk (~1% of the gateway's CPU per feed page) is done once.
 */
const scanned = new WeakMap<DocumentNode, boolean>();

function nulInLiterals(document: DocumentNode): boolean {
  let found = scanned.get(document);
  if (found === undefined) scanned.set(document, (found = scanLiterals(document)));
  return found;
}

function scanLiterals(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    StringValue(node) {
      if (!node.value.includes(NUL)) return undefined;
      found = true;
      return BREAK;
    },
  });
  return found;
}

/** BAD_USER_INPUT (HTTP 400) when a string of the operation holds a NUL character. */
export function checkInputText(document: DocumentNode, variables: Readonly<Record<string, unknown>> | undefined): void {
  let field: string | null = null;
  for (const [name, value] of Object.entries(variables ?? {})) {
    field = nulInValue(value, name);
    if (field) break;
  }
  if (!field && !nulInLiterals(document)) return;
  throw new graphql.GraphQLError('Text must not contain NUL characters', {
    extensions: { code: ErrorCode.BadUserInput, ...(field ? { field } : {}), http: { status: 400 } },
  });
}

export function inputHygienePlugin(): ApolloServerPlugin {
  return {
    requestDidStart: async () => ({
      didResolveOperation: async ({ document, request }) => {
        checkInputText(document, request.variables);
      },
    }),
  };
}

const DID_YOU_MEAN = / ?Did you mean [^?]*\?/g;

/**
 * In production, error messages name no schema element the client did not: validation errors lose their
 * "Did you mean" in Apollo Server already, variable-coercion errors (`Field "usernam" is not defined by type
 * "SignInInput". Did you mean "username"?`) and those of graphql-ws here.
 */
export function withoutSuggestions(formatted: GraphQLFormattedError): GraphQLFormattedError {
  if (!formatted.message.includes('Did you mean')) return formatted;
  return { ...formatted, message: formatted.message.replace(DID_YOU_MEAN, '') };
}
