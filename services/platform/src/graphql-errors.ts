import { GraphQLError, Kind, parse, visit, type ASTNode, type DocumentNode, type GraphQLFormattedError, type ValueNode } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DomainError, toGraphQLExtensions } from '@ledgerline/contracts';
import type { Logger } from 'pino';
import { internalErrorMessage, logInternalError } from './internal-errors';

/**
 * The one place domain errors become GraphQL errors: stable `extensions.code` (the category) and
 * `extensions.reason` (the domain code), plus the field at fault. Anything unexpected is logged
 * and hidden behind INTERNAL_SERVER_ERROR so no stack trace or SQL reaches a client. An INTERNAL domain error's
 * message is answered (it names the service that failed, never its address) and the error logged with its cause.
 * Both carry `extensions.reference`, the one their log line has (the unexpected one in its message too), so a
 * customer's support ticket finds the details.
 */
export function createFormatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      const extensions = toGraphQLExtensions(original);
      // An INTERNAL one (another service down, …) tells the client which service only: where and why (its cause) are logged here.
      if (original.category === 'INTERNAL') extensions.reference = logInternalError(logger, original, 'internal error answered', { path: formatted.path });
      return { message: original.message, path: formatted.path, locations: formatted.locations, extensions };
    }
    const code = formatted.extensions?.code;
    if (code && code !== 'INTERNAL_SERVER_ERROR') return withRefusedInputField(formatted, error);
    if (original instanceof GraphQLError && !original.originalError) return formatted;
    const reference = logInternalError(logger, original, 'unexpected error in resolver', { path: formatted.path });
    return { message: internalErrorMessage(reference), path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR', reference } };
  };
}

/**
 * An input graphql-js refused (a scalar's refusal, a missing or null required value) with `extensions.field`, the
 * argument path the domain's input errors name (`input.amount.amount`, `input.lines[0]`, `currency`), when it can be
 * known; as it was otherwise.
 */
export function withRefusedInputField(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if ((code !== 'BAD_USER_INPUT' && code !== 'GRAPHQL_VALIDATION_FAILED') || formatted.extensions?.field !== undefined || typeof error !== 'object' || error === null) return formatted;
  const field = refusedInputField(error as GraphQLError);
  return field === undefined ? formatted : { ...formatted, extensions: { ...formatted.extensions, field } };
}

const NAME = '[_A-Za-z][_0-9A-Za-z]*';
/** graphql-js 16's refusals of a variable (execution/values.ts, coerceVariableValues). */
const VARIABLE_REFUSAL = new RegExp(`^Variable "\\$(${NAME})" (got invalid value |of required type |of non-null type )`);
/** The end of a `got invalid value` message's head: where in the variable (printPathArray's `.a[0].b`), when not all of it. */
const AT_PATH = new RegExp(`^.* at "(${NAME})((?:\\.${NAME}|\\[\\d+\\])*)"$`, 's');
/** What a literal's refusal can point at (a variable's is its definition). */
const LITERAL_KINDS: string[] = [Kind.INT, Kind.FLOAT, Kind.STRING, Kind.BOOLEAN, Kind.NULL, Kind.ENUM, Kind.LIST, Kind.OBJECT];

/**
 * Where the refused input sits, from the operation's own text (the error's source, parsed again: graphql-js keeps no
 * path to the argument). A variable is named after the argument it is passed to (`$t` in `topupBalance(input: $t)`
 * is `input`), its refused part from graphql-js's message (`at "t.amount.amount"`, the only place it is kept); a
 * literal is the value node the refusal points at (the shared scalars give theirs). Undefined when the argument is
 * not one (a variable passed to two different ones, used in a directive or nowhere) or the message is not graphql-js's.
 */
export function refusedInputField(error: Pick<GraphQLError, 'message' | 'nodes' | 'source' | 'originalError'>): string | undefined {
  // Read by shape, not `instanceof`: a module loaded twice (ESM and CommonJS graphql, as under vitest) has two classes.
  const node = error.nodes?.length === 1 ? error.nodes[0] : undefined;
  const body = error.source?.body;
  if (!node?.loc || body === undefined) return undefined;
  let document: DocumentNode;
  try {
    document = parse(body);
  } catch {
    return undefined;
  }
  if (node.kind === Kind.VARIABLE_DEFINITION) {
    const refusal = VARIABLE_REFUSAL.exec(error.message);
    if (!refusal || refusal[1] !== node.variable.name.value) return undefined;
    const within = refusal[2] === 'got invalid value ' ? refusedPartOf(error, refusal[1]) : '';
    if (within === undefined) return undefined;
    const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION && d.variableDefinitions?.some((v) => v.loc?.start === node.loc!.start));
    if (!operation) return undefined;
    const paths = new Set(argumentValues(document, operation).flatMap((v) => (v.node.kind === Kind.VARIABLE && v.node.name.value === refusal[1] ? [v.path] : [])));
    return paths.size === 1 ? `${[...paths][0]}${within}` : undefined;
  }
  if (!LITERAL_KINDS.includes(node.kind)) return undefined;
  return argumentValues(document, document).find((v) => v.node.kind === node.kind && v.node.loc?.start === node.loc!.start)?.path;
}

/**
 * The refused part of a variable, `.amount.amount` (empty: all of it): graphql-js's message is
 * `Variable "$t" got invalid value <value>[ at "t<path>"]; <the refusal's own message>`.
 */
function refusedPartOf(error: Pick<GraphQLError, 'message' | 'originalError'>, variable: string): string | undefined {
  const why = error.originalError?.message;
  if (!why || !error.message.endsWith(`; ${why}`)) return undefined;
  const head = error.message.slice(0, -(why.length + 2));
  // The value is printed before the path (inspect(): strings JSON-quoted, objects ending in `}`), so a path can only
  // be at the very end of the head.
  const at = AT_PATH.exec(head);
  if (!at) return '';
  return at[1] === variable ? at[2] : undefined;
}

/** Every value inside a field's arguments under `root` (the fragments it spreads included), with its path from the argument. */
function argumentValues(document: DocumentNode, root: ASTNode): { node: ValueNode; path: string }[] {
  const out: { node: ValueNode; path: string }[] = [];
  const walk = (node: ValueNode, path: string): void => {
    out.push({ node, path });
    if (node.kind === Kind.OBJECT) for (const f of node.fields) walk(f.value, `${path}.${f.name.value}`);
    if (node.kind === Kind.LIST) node.values.forEach((v, i) => walk(v, `${path}[${i}]`));
  };
  const seen = new Set<string>();
  const pending: ASTNode[] = [root];
  for (let next = pending.pop(); next; next = pending.pop()) {
    visit(next, {
      Field: (field) => field.arguments?.forEach((a) => walk(a.value, a.name.value)),
      FragmentSpread: (spread) => {
        if (seen.has(spread.name.value)) return;
        seen.add(spread.name.value);
        const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === spread.name.value);
        if (fragment) pending.push(fragment);
      },
    });
  }
  return out;
}
