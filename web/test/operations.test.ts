import { readFileSync } from 'node:fs';
import { buildSchema, Kind, validate, type DocumentNode } from 'graphql';
import { addTypenameToDocument } from '@apollo/client/utilities';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig, operationLimitRules } from '@insta/gateway';
import * as generated from '../src/generated/gql/graphql.ts';

const schema = buildSchema(readFileSync(new URL('../src/generated/schema.graphql', import.meta.url), 'utf8'));
const operations = Object.entries(generated).filter(
  (entry): entry is [string, DocumentNode] =>
    (entry[1] as DocumentNode | undefined)?.kind === Kind.DOCUMENT &&
    (entry[1] as DocumentNode).definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION),
);

describe("the web client's operations", () => {
  it("should all be valid against the API schema and within the gateway's default operation limits", () => {
    const limits = loadGatewayConfig({ JWT_SECRET: 'x'.repeat(32), GATEWAY_SIGNING_SECRET: 'y'.repeat(32) });
    expect(operations.length).toBeGreaterThan(20);
    const failures = operations
      .map(([name, document]) => ({
        name,
        errors: validate(schema, addTypenameToDocument(document), operationLimitRules(limits)).map((e) => e.message),
      }))
      .filter((result) => result.errors.length > 0);
    expect(failures).toEqual([]);
  });
});
