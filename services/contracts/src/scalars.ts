import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { isCurrencyCode, isDecimalString } from './money';

/**
 * A literal's refusal carries its node (`ast`): graphql-js reports it as it is, and without the node it has no location,
 * so the error formatter could not tell which argument field it names (`extensions.field`).
 */
function invalid(scalar: string, value: unknown, hint: string, ast?: ValueNode): GraphQLError {
  return new GraphQLError(`${scalar} cannot represent ${JSON.stringify(value)}: ${hint}`, { nodes: ast, extensions: { code: 'BAD_USER_INPUT' } });
}

function literalString(ast: ValueNode, scalar: string): string {
  if (ast.kind !== Kind.STRING) throw invalid(scalar, (ast as { value?: unknown }).value ?? ast.kind, 'expected a string literal', ast);
  return ast.value;
}

/** Exact decimal, always a string on the wire so no client parses money into a float. */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number as a string, e.g. "12.3400".',
  serialize(value) {
    if (typeof value === 'string' && isDecimalString(value)) return value;
    if (typeof value === 'object' && value !== null && 'toFixed' in value) return (value as { toFixed(): string }).toFixed();
    throw invalid('Decimal', value, 'expected a decimal string');
  },
  parseValue(value) {
    if (isDecimalString(value)) return value;
    throw invalid('Decimal', value, 'use a string such as "12.50"; numbers are refused so money never passes through a float');
  },
  parseLiteral(ast) {
    const text = literalString(ast, 'Decimal');
    if (isDecimalString(text)) return text;
    throw invalid('Decimal', text, 'use a string such as "12.50"', ast);
  },
});

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * The instants PostgreSQL holds as the ORM writes them (an ISO string): UTC years 1 to 9999. A four-digit year with
 * an offset can land outside (`0000-…Z` is year 0, `9999-12-31T23:59:59-23:59` is year 10000 in UTC), which the
 * database refused: the request failed INTERNAL_SERVER_ERROR instead of naming the input.
 */
const DATE_TIME_RANGE = 'between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z (UTC)';

/** The instant of an RFC 3339 string with an offset inside the storable years, or a reason why not. */
function parseDateTime(text: string): Date | 'format' | 'range' {
  if (!ISO_DATETIME.test(text)) return 'format';
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return 'format';
  const year = date.getUTCFullYear();
  return year < 1 || year > 9999 ? 'range' : date;
}

/** RFC 3339 timestamp with an explicit offset, UTC years 1 to 9999; serialized in UTC. */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An RFC 3339 date-time with offset, e.g. "2026-11-25T10:00:00Z", between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.',
  serialize(value) {
    const date = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime())) throw invalid('DateTime', value, 'expected a date');
    return date.toISOString();
  },
  parseValue(value) {
    const parsed = typeof value === 'string' ? parseDateTime(value) : 'format';
    if (parsed instanceof Date) return parsed;
    throw invalid('DateTime', value, parsed === 'range' ? `the instant must be ${DATE_TIME_RANGE}` : 'use RFC 3339 with an offset, e.g. "2026-11-25T10:00:00Z"');
  },
  parseLiteral(ast) {
    const text = literalString(ast, 'DateTime');
    const parsed = parseDateTime(text);
    if (parsed instanceof Date) return parsed;
    throw invalid('DateTime', text, parsed === 'range' ? `the instant must be ${DATE_TIME_RANGE}` : 'use RFC 3339 with an offset', ast);
  },
});

export const CurrencyCodeScalar = new GraphQLScalarType<string, string>({
  name: 'CurrencyCode',
  description: 'An ISO 4217 currency code, e.g. "EUR".',
  serialize(value) {
    if (isCurrencyCode(value)) return value;
    throw invalid('CurrencyCode', value, 'expected an ISO 4217 code');
  },
  parseValue(value) {
    if (isCurrencyCode(value)) return value;
    throw invalid('CurrencyCode', value, 'use a supported ISO 4217 code such as "EUR"');
  },
  parseLiteral(ast) {
    const text = literalString(ast, 'CurrencyCode');
    if (isCurrencyCode(text)) return text;
    throw invalid('CurrencyCode', text, 'use a supported ISO 4217 code such as "EUR"', ast);
  },
});

function literalToJson(ast: ValueNode): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      // JSON documents (plans) keep numbers as written; money inside them is a string by schema.
      return Number(ast.value);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value)]));
    case Kind.LIST:
      return ast.values.map(literalToJson);
    case Kind.NULL:
      return null;
    default:
      throw invalid('JSON', ast.kind, 'variables are not supported inside JSON literals', ast);
  }
}

/** Arbitrary JSON, for documents such as plans and rule traces. */
export const JSONScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast) => literalToJson(ast),
});

export const scalarResolvers = { Decimal: DecimalScalar, DateTime: DateTimeScalar, CurrencyCode: CurrencyCodeScalar, JSON: JSONScalar };

/** The SDL every subgraph shares for scalars and value types. */
export const sharedTypeDefs = /* GraphQL */ `
  scalar Decimal
  scalar DateTime
  scalar CurrencyCode
  scalar JSON

  type Money @shareable {
    amount: Decimal!
    currency: CurrencyCode!
  }

  type PageInfo @shareable {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
    endCursor: String
  }
`;
