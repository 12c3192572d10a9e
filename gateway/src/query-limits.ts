import { positiveWholeNumberSetting } from '@ledgerline/platform';
import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';

/**
 * How big one operation may be at the gateway. Without a limit one request could ask for an expensive field
 * (usage records, invoices) thousands of times under aliases, or nest connections without end, and the gateway
 * would plan and run it all against the subgraphs. Checked with the other validation rules, before any subgraph
 * is asked: a refused operation answers HTTP 400 `GRAPHQL_VALIDATION_FAILED`, its message naming the limit and
 * its setting.
 *
 * - depth: fields nested in fields (`{ a { b } }` is 2); fragments count where they are spread.
 * - fields: field selections of the operation, each fragment counted again wherever it is spread (so a few
 *   fragments spread into each other cannot multiply into millions).
 * - aliases: fields selected under an alias (`a1: invoice(id: …)`): the way one field is asked for many times.
 *
 * Introspection's `__schema` / `__type` subtrees do not count towards depth (the standard introspection query nests
 * `ofType` deeper than any query of the API; GRAPHQL_INTROSPECTION decides whether they are answered, and the
 * gateway answers them itself); their fields and aliases do.
 */
export interface QueryLimits {
  maxDepth: number;
  maxFields: number;
  maxAliases: number;
}

/** The deepest query of the docs, the tests, the CLI and the worker is well within these (gateway/test/query-limits.test.ts). */
export const DEFAULT_MAX_QUERY_DEPTH = 15;
export const DEFAULT_MAX_QUERY_FIELDS = 1000;
export const DEFAULT_MAX_QUERY_ALIASES = 50;

/** GATEWAY_MAX_QUERY_DEPTH, GATEWAY_MAX_QUERY_FIELDS, GATEWAY_MAX_QUERY_ALIASES; anything but a positive whole number stops start-up. */
export function queryLimitsSetting(env: NodeJS.ProcessEnv): QueryLimits {
  return {
    maxDepth: positiveWholeNumberSetting(env, 'GATEWAY_MAX_QUERY_DEPTH', DEFAULT_MAX_QUERY_DEPTH),
    maxFields: positiveWholeNumberSetting(env, 'GATEWAY_MAX_QUERY_FIELDS', DEFAULT_MAX_QUERY_FIELDS),
    maxAliases: positiveWholeNumberSetting(env, 'GATEWAY_MAX_QUERY_ALIASES', DEFAULT_MAX_QUERY_ALIASES),
  };
}

export interface QueryMeasure {
  depth: number;
  fields: number;
  aliases: number;
  /** Selections walked, fragment spreads included: bounds the walk itself (4 × maxFields). */
  steps: number;
}

const INTROSPECTION_ROOTS = new Set(['__schema', '__type']);

const overLimits = (m: QueryMeasure, limits: QueryLimits): boolean =>
  m.depth > limits.maxDepth || m.fields > limits.maxFields || m.aliases > limits.maxAliases || m.steps > 4 * limits.maxFields;

/**
 * Depth, fields and aliases of one selection set, fragments expanded. Stops counting once past `limits` (a
 * fragment bomb is not walked to its end) and never follows a fragment into itself (a cycle is
 * NoFragmentCyclesRule's error, which runs alongside).
 */
export function measureSelections(selectionSet: SelectionSetNode, fragment: (name: string) => FragmentDefinitionNode | undefined, limits?: QueryLimits): QueryMeasure {
  const measure: QueryMeasure = { depth: 0, fields: 0, aliases: 0, steps: 0 };
  const walk = (set: SelectionSetNode, depth: number, introspection: boolean, spreading: Set<string>): void => {
    for (const selection of set.selections) {
      if (limits && overLimits(measure, limits)) return;
      measure.steps++;
      if (selection.kind === Kind.FIELD) {
        measure.fields++;
        if (selection.alias) measure.aliases++;
        const meta = introspection || INTROSPECTION_ROOTS.has(selection.name.value);
        if (!meta) measure.depth = Math.max(measure.depth, depth + 1);
        if (selection.selectionSet) walk(selection.selectionSet, depth + 1, meta, spreading);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, depth, introspection, spreading);
      } else {
        const name = selection.name.value;
        const definition = fragment(name);
        if (!definition || spreading.has(name)) continue;
        walk(definition.selectionSet, depth, introspection, new Set(spreading).add(name));
      }
    }
  };
  walk(selectionSet, 0, false, new Set());
  return measure;
}

/** The validation rule: one error per operation over a limit, naming the limit and its setting. */
export function queryLimitsRule(limits: QueryLimits): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const measure = measureSelections(operation.selectionSet, (name) => context.getFragment(name) ?? undefined, limits);
      const what = `The ${operation.operation}${operation.name ? ` ${operation.name.value}` : ''}`;
      let message: string | undefined;
      if (measure.depth > limits.maxDepth) message = `${what} is nested deeper than the maximum query depth of ${limits.maxDepth} fields (GATEWAY_MAX_QUERY_DEPTH)`;
      else if (measure.aliases > limits.maxAliases) message = `${what} has more aliased fields than the maximum of ${limits.maxAliases} (GATEWAY_MAX_QUERY_ALIASES)`;
      else if (measure.fields > limits.maxFields || measure.steps > 4 * limits.maxFields) {
        message = `${what} selects more fields than the maximum of ${limits.maxFields}, each fragment counted where it is spread (GATEWAY_MAX_QUERY_FIELDS)`;
      }
      if (message) context.reportError(new GraphQLError(message, { nodes: [operation] }));
      return false;
    },
  });
}
