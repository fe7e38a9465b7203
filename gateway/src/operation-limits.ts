import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  GraphQLError,
  parse,
  type DocumentNode,
  type GraphQLFormattedError,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { ErrorCode, appError } from '@insta/infra';

/**
 * Limits on what one operation may ask for. The same rules run on HTTP (as Apollo Server validation rules plus
 * `parseOptions.maxTokens`) and on graphql-ws, which parses and validates by itself: use `parseWithLimits` and
 * `operationLimitRules` there. MAX_COST needs the variables, so it is checked once they are known
 * (`limits/cost.ts`). Every rejection carries `extensions.code = OPERATION_LIMIT_EXCEEDED`.
 */
export interface OperationLimits {
  MAX_DEPTH: number;
  MAX_ALIASES: number;
  MAX_TOKENS: number;
  MAX_COST: number;
}

export const operationLimitExceeded = (message: string) => appError(ErrorCode.OperationLimitExceeded, message);

// graphql-armor throws (or reports) its errors as "Syntax Error: ..." with no code; we report our own error
// through the validation context instead of letting armor throw.
const reportAsLimitError = (context: ValidationContext | null, error: GraphQLError) => {
  context?.reportError(operationLimitExceeded(error.message.replace(/^Syntax Error: /, '')));
};
const armorOptions = { exposeLimits: true, propagateOnRejection: false, onReject: [reportAsLimitError] };

export function operationLimitRules(limits: OperationLimits): ValidationRule[] {
  return [
    maxDepthRule({ ...armorOptions, n: limits.MAX_DEPTH }),
    maxAliasesRule({ ...armorOptions, n: limits.MAX_ALIASES }),
  ] as ValidationRule[];
}

// graphql 16 spells it "more that".
const TOKEN_LIMIT = /Document contains more tha[nt] (\d+) tokens/;

function tokenLimitMessage(maxTokens: string) {
  return `Token limit of ${maxTokens} exceeded: the operation is too large.`;
}

/** `parse` with the token limit, throwing OPERATION_LIMIT_EXCEEDED instead of a syntax error when it is hit. */
export function parseWithLimits(source: string, limits: Pick<OperationLimits, 'MAX_TOKENS'>): DocumentNode {
  try {
    return parse(source, { maxTokens: limits.MAX_TOKENS });
  } catch (error) {
    const match = error instanceof GraphQLError ? TOKEN_LIMIT.exec(error.message) : null;
    if (match) throw operationLimitExceeded(tokenLimitMessage(match[1] ?? String(limits.MAX_TOKENS)));
    throw error;
  }
}

/**
 * Apollo Server reports the token limit as GRAPHQL_PARSE_FAILED and re-codes every validation error as
 * GRAPHQL_VALIDATION_FAILED; its `formatError` hook passes errors through here to restore our code.
 */
export function formatOperationLimitError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (code === 'GRAPHQL_VALIDATION_FAILED') {
    // Duck-typed: under vitest, Apollo (CJS graphql) and this module (ESM graphql) see different classes.
    const original = (error as { originalError?: { extensions?: Record<string, unknown> } } | null)?.originalError;
    if (original?.extensions?.code !== ErrorCode.OperationLimitExceeded) return formatted;
    return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.OperationLimitExceeded } };
  }
  const match = code === 'GRAPHQL_PARSE_FAILED' ? TOKEN_LIMIT.exec(formatted.message) : null;
  if (!match) return formatted;
  return {
    ...formatted,
    message: tokenLimitMessage(match[1] ?? ''),
    extensions: { ...formatted.extensions, code: ErrorCode.OperationLimitExceeded },
  };
}
