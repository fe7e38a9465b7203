import type { ApolloServerPlugin } from '@apollo/server';
import type {
  DocumentNode,
  FragmentDefinitionNode,
  GraphQLCompositeType,
  GraphQLField,
  GraphQLSchema,
  OperationDefinitionNode,
  SelectionSetNode,
  ValueNode,
} from 'graphql';
import { ErrorCode } from '@insta/infra';
import { graphql } from '../graphql-runtime.ts';

/** Page size of a connection whose `first` is not given (the API's documented default). */
export const DEFAULT_PAGE_SIZE = 20;

export interface CostLimit {
  MAX_COST: number;
}

/**
 * What an operation costs once its variables are known: every field counts once per time it is resolved, and a
 * field with a `first` argument (a Relay connection, `actors`) multiplies what is under it by its page size: the
 * literal, the variable's value, the variable's default, the argument's schema default, else 20. Lists without
 * `first` (media, variants, edges within a page) count as one each: their length is bounded by the data model,
 * and a connection's edges are already multiplied by its `first`. `@skip`/`@include` are ignored (both branches
 * count) and introspection is free, as it was under graphql-armor's rule.
 */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | undefined,
): number {
  return measureCost(schema, document, operation, variables).cost;
}

/** The cost, and whether a variable's value went into it (else it is the operation's for any variables). */
function measureCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | undefined,
): { cost: number; readVariables: boolean } {
  let readVariables = false;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === graphql.Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const variableDefaults = new Map<string, ValueNode>();
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue) variableDefaults.set(definition.variable.name.value, definition.defaultValue);
  }

  const intValue = (node: ValueNode | undefined): number | undefined => {
    if (!node) return undefined;
    if (node.kind === graphql.Kind.INT) return Number(node.value);
    if (node.kind === graphql.Kind.VARIABLE) {
      readVariables = true;
      const name = node.name.value;
      const value = variables?.[name];
      if (typeof value === 'number' && Number.isInteger(value)) return value;
      if (value === undefined) return intValue(variableDefaults.get(name));
    }
    return undefined;
  };

  const pageSize = (
    field: GraphQLField<unknown, unknown>,
    args: readonly { name: { value: string }; value: ValueNode }[],
  ) => {
    const first = field.args.find((arg) => arg.name === 'first');
    if (!first) return 1;
    const given = intValue(args.find((arg) => arg.name.value === 'first')?.value);
    const fallback = typeof first.defaultValue === 'number' ? first.defaultValue : DEFAULT_PAGE_SIZE;
    return Math.max(0, given ?? fallback);
  };

  // A fragment spread inside itself is a validation error, so the walk ends; `seen` guards it anyway.
  const cost = (
    selectionSet: SelectionSetNode,
    type: GraphQLCompositeType,
    times: number,
    seen: Set<string>,
  ): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === graphql.Kind.FIELD) {
        const name = selection.name.value;
        if (name.startsWith('__')) continue;
        const field = 'getFields' in type ? type.getFields()[name] : undefined;
        if (!field) continue;
        total += times;
        const fieldType = graphql.getNamedType(field.type);
        if (selection.selectionSet && graphql.isCompositeType(fieldType)) {
          total += cost(selection.selectionSet, fieldType, times * pageSize(field, selection.arguments ?? []), seen);
        }
      } else if (selection.kind === graphql.Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        if (condition && graphql.isCompositeType(condition))
          total += cost(selection.selectionSet, condition, times, seen);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        const condition = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
        if (!fragment || seen.has(name) || !condition || !graphql.isCompositeType(condition)) continue;
        total += cost(fragment.selectionSet, condition, times, new Set(seen).add(name));
      }
    }
    return total;
  };

  const root = schema.getRootType(operation.operation);
  return { cost: root ? cost(operation.selectionSet, root, 1, new Set()) : 0, readVariables };
}

/**
 * Costs that no variable goes into, per schema and operation. Apollo Server's document store hands every request
 * of a known query the same parsed document, whose cost against one schema cannot change: it is walked once, not
 * per request (a document parsed anew, as a websocket message's, is measured anew). An operation with a variable
 * under `first` is measured on every request, with that request's variables.
 */
const constantCosts = new WeakMap<GraphQLSchema, WeakMap<OperationDefinitionNode, number>>();

function costOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | undefined,
): number {
  let known = constantCosts.get(schema);
  const cached = known?.get(operation);
  if (cached !== undefined) return cached;
  const { cost, readVariables } = measureCost(schema, document, operation, variables);
  if (!readVariables) {
    if (!known) constantCosts.set(schema, (known = new WeakMap()));
    known.set(operation, cost);
  }
  return cost;
}

/** OPERATION_LIMIT_EXCEEDED (HTTP 400) when the operation costs more than MAX_COST. */
export function checkOperationCost(
  limit: CostLimit,
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | undefined,
): void {
  const found = costOf(schema, document, operation, variables);
  if (found <= limit.MAX_COST) return;
  throw new graphql.GraphQLError(`Cost limit of ${limit.MAX_COST} exceeded, found ${found}.`, {
    extensions: { code: ErrorCode.OperationLimitExceeded, http: { status: 400 } },
  });
}

/**
 * The cost limit on Apollo Server: at didResolveOperation the variables are known (a validation rule runs
 * without them). Queries and mutations sent over websockets run through Apollo too; subscriptions are checked
 * by the websocket server with `checkOperationCost`.
 */
export function costLimitPlugin(limit: CostLimit): ApolloServerPlugin {
  return {
    requestDidStart: async () => ({
      didResolveOperation: async ({ schema, document, operation, request }) => {
        if (operation) checkOperationCost(limit, schema, document, operation, request.variables);
      },
    }),
  };
}
