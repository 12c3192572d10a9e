import fs from 'node:fs';
import { Kind, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { guardOperations, OPERATION_RULES } from './authorization';

/** The Query and Mutation fields invoicing's schema.graphql declares (definitions and extensions). */
function operationFields(type: 'Query' | 'Mutation'): string[] {
  const doc = parse(fs.readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));
  return doc.definitions.flatMap((d) =>
    (d.kind === Kind.OBJECT_TYPE_DEFINITION || d.kind === Kind.OBJECT_TYPE_EXTENSION) && d.name.value === type ? (d.fields ?? []).map((f) => f.name.value) : [],
  );
}

describe('invoicing authorization: nothing is open by default', () => {
  it('every Query and Mutation field of the schema has a rule', () => {
    for (const type of ['Query', 'Mutation'] as const) {
      const fields = operationFields(type);
      expect(fields.length, type).toBeGreaterThan(5);
      expect(fields.filter((f) => !OPERATION_RULES[type][f]), `${type} fields without a rule`).toEqual([]);
    }
  });

  it('a resolver for a field without a rule stops the service at start-up', () => {
    expect(() => guardOperations({ Query: { invoice: async () => null }, Mutation: { somethingNew: async () => null } })).toThrow(/Mutation\.somethingNew has no authorization rule/);
  });
});
