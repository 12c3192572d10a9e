import { GraphQLError, Kind, type ASTVisitor, type FragmentDefinitionNode, type GraphQLFormattedError, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql';
import { positiveWholeNumberSetting } from './config';

/**
 * How big one operation may be. Without a limit one request could ask for an expensive field (usage records,
 * invoices) thousands of times under aliases, or nest connections without end, and the gateway would plan and run
 * it all against the subgraphs; a document of millions of tokens (the 5 MB body allows them) costs seconds of CPU
 * to parse alone. The gateway checks them before any subgraph is asked, the subgraphs (which take direct callers)
 * the same doubled (subgraphQueryLimits). A refused operation answers HTTP 400 `GRAPHQL_VALIDATION_FAILED`, its
 * message naming the limit and its setting.
 *
 * - tokens: names, values and punctuation of the document; the parser stops past the limit (parseOptions).
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
  maxTokens: number;
}

/** The deepest query of the docs, the tests, the CLI and the worker is well within these (gateway/test/query-limits.test.ts). */
export const DEFAULT_MAX_QUERY_DEPTH = 15;
export const DEFAULT_MAX_QUERY_FIELDS = 1000;
export const DEFAULT_MAX_QUERY_ALIASES = 50;
/** Apollo Router's default too; 1000 fields with arguments fit (readme-examples.test.ts checks every docs operation). */
export const DEFAULT_MAX_QUERY_TOKENS = 15_000;

/**
 * GATEWAY_MAX_QUERY_DEPTH, _FIELDS, _ALIASES, _TOKENS, read by the gateway and every subgraph (deploy/k8s gives them
 * one ConfigMap); anything but a positive whole number stops start-up.
 */
export function queryLimitsSetting(env: NodeJS.ProcessEnv): QueryLimits {
  return {
    maxDepth: positiveWholeNumberSetting(env, 'GATEWAY_MAX_QUERY_DEPTH', DEFAULT_MAX_QUERY_DEPTH),
    maxFields: positiveWholeNumberSetting(env, 'GATEWAY_MAX_QUERY_FIELDS', DEFAULT_MAX_QUERY_FIELDS),
    maxAliases: positiveWholeNumberSetting(env, 'GATEWAY_MAX_QUERY_ALIASES', DEFAULT_MAX_QUERY_ALIASES),
    maxTokens: positiveWholeNumberSetting(env, 'GATEWAY_MAX_QUERY_TOKENS', DEFAULT_MAX_QUERY_TOKENS),
  };
}

/** Where the limits are applied: the gateway, or a subgraph (twice each, see subgraphQueryLimits). */
export type QueryLimitsScope = 'gateway' | 'subgraph';

/**
 * A subgraph's limits: twice the gateway's. The gateway's plan of an operation within its limits adds key fields and
 * `__typename`, wraps entity fetches in `_entities`, and may write out fragments the client spread; it must not be
 * refused. A direct caller's bomb still is.
 */
export function subgraphQueryLimits(limits: QueryLimits): QueryLimits {
  return { maxDepth: 2 * limits.maxDepth, maxFields: 2 * limits.maxFields, maxAliases: 2 * limits.maxAliases, maxTokens: 2 * limits.maxTokens };
}

const named = (setting: string, scope: QueryLimitsScope) => (scope === 'subgraph' ? `twice ${setting} at a subgraph` : setting);

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
export function queryLimitsRule(limits: QueryLimits, scope: QueryLimitsScope = 'gateway'): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const measure = measureSelections(operation.selectionSet, (name) => context.getFragment(name) ?? undefined, limits);
      const what = `The ${operation.operation}${operation.name ? ` ${operation.name.value}` : ''}`;
      let message: string | undefined;
      if (measure.depth > limits.maxDepth) message = `${what} is nested deeper than the maximum query depth of ${limits.maxDepth} fields (${named('GATEWAY_MAX_QUERY_DEPTH', scope)})`;
      else if (measure.aliases > limits.maxAliases) message = `${what} has more aliased fields than the maximum of ${limits.maxAliases} (${named('GATEWAY_MAX_QUERY_ALIASES', scope)})`;
      else if (measure.fields > limits.maxFields || measure.steps > 4 * limits.maxFields) {
        message = `${what} selects more fields than the maximum of ${limits.maxFields}, each fragment counted where it is spread (${named('GATEWAY_MAX_QUERY_FIELDS', scope)})`;
      }
      if (message) context.reportError(new GraphQLError(message, { nodes: [operation] }));
      return false;
    },
  });
}

/** graphql-js's error when the parser stops at `maxTokens` ("… more that N tokens", sic; `than` should it be fixed). */
const TOKEN_LIMIT_REACHED = /^Syntax Error: Document contains more tha[nt] \d+ tokens\. Parsing aborted\.$/;

/**
 * For formatError: the parser's refusal of a document over `maxTokens` (Apollo answers it as GRAPHQL_PARSE_FAILED,
 * in graphql-js's words) told like the other limits, naming its setting; any other error as it is.
 */
export function tokenLimitError(formatted: GraphQLFormattedError, limits: QueryLimits, scope: QueryLimitsScope = 'gateway'): GraphQLFormattedError {
  if (formatted.extensions?.code !== 'GRAPHQL_PARSE_FAILED' || !TOKEN_LIMIT_REACHED.test(formatted.message)) return formatted;
  return {
    message: `The document has more tokens (names, values, punctuation) than the maximum of ${limits.maxTokens}; it was not parsed (${named('GATEWAY_MAX_QUERY_TOKENS', scope)})`,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
  };
}
