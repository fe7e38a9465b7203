import type { DocumentNode, GraphQLError, GraphQLSchema } from 'graphql';
import type { GatewayConfig } from '../config.ts';
import { graphql } from '../graphql-runtime.ts';
import { operationLimitRules, parseWithLimits } from '../operation-limits.ts';

const DID_YOU_MEAN = / ?Did you mean(.+?)\?$/;
/** Parsed and validated operations kept by their text (cleared when full). */
const MAX_VALID_DOCUMENTS = 1_000;

type ErrorLike = { message: string; extensions?: Record<string, unknown> };

/**
 * graphql-ws errors must be this process's graphql-js GraphQLError (it checks `instanceof`); validation and
 * limit errors keep their code, others get the code Apollo Server gives the same failure on HTTP.
 */
export function toGraphQLError(error: unknown, fallbackCode: string): GraphQLError {
  const { message, extensions } = error instanceof Error ? (error as ErrorLike) : { message: String(error) };
  const { http: _http, ...rest } = extensions ?? {};
  return new graphql.GraphQLError(message, { extensions: { ...rest, code: extensions?.code ?? fallbackCode } });
}

/**
 * Parses and validates an operation that does not go through Apollo Server (every websocket operation, HTTP
 * subscriptions) with the limits HTTP applies: the parsed document, or the typed errors that refuse it.
 */
export function operationValidator(config: GatewayConfig, schema: () => GraphQLSchema) {
  const production = config.NODE_ENV === 'production';
  const rules = [...graphql.specifiedRules, ...operationLimitRules(config)];
  // Valid documents by text: the same operation on thousands of connections is parsed and validated once, and
  // they share one AST instead of a copy each (memory per idle subscription).
  const valid = new Map<string, DocumentNode>();
  const validate = (query: string): DocumentNode | GraphQLError[] => {
    const cached = valid.get(query);
    if (cached) return cached;
    const checked = parseAndValidate(query);
    if (Array.isArray(checked)) return checked;
    if (valid.size >= MAX_VALID_DOCUMENTS) valid.clear();
    valid.set(query, checked);
    return checked;
  };
  const parseAndValidate = (query: string): DocumentNode | GraphQLError[] => {
    let document: DocumentNode;
    try {
      document = parseWithLimits(query, config);
    } catch (error) {
      return [toGraphQLError(error, 'GRAPHQL_PARSE_FAILED')];
    }
    const errors = graphql.validate(schema(), document, rules);
    if (errors.length === 0) return document;
    return errors.map((error) => {
      // As Apollo Server's hideSchemaDetailsFromClientErrors does on HTTP: no "Did you mean" in production.
      if (production) error.message = error.message.replace(DID_YOU_MEAN, '');
      return toGraphQLError(error, 'GRAPHQL_VALIDATION_FAILED');
    });
  };
  return validate;
}
