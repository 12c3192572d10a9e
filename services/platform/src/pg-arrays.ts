/**
 * PostgreSQL array literals for batch statements (`unnest($1::text[], ...)`, `= any($1)`), written
 * by one native JSON.stringify instead of node-postgres' element-by-element escaping, which cost
 * ~13 % of usage's CPU and much of the wallets' charge write at full load.
 *
 * A JSON array of strings, numbers, booleans and nulls is a PostgreSQL array literal once its
 * brackets become braces: `"` and `\` are escaped the same way in both, `null` reads as NULL,
 * numbers and booleans go unquoted. Only control characters differ (JSON writes `\n`, `\u0001`,
 * which PostgreSQL would read as `n`, `u0001`): a value with one, or a backslash before such a
 * letter, takes the element-by-element path.
 */

/** A JSON escape PostgreSQL's array syntax does not share, or an escaped backslash before such a letter. */
const JSON_ONLY_ESCAPE = /\\[bfnrtu]/;
const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

export type ArrayElement = string | number | boolean | Date | null | undefined;

/** The literal of a one-dimensional array of strings, numbers, booleans, Dates (ISO, UTC) and nulls. */
export function arrayLiteral(values: readonly ArrayElement[]): string {
  const json = JSON.stringify(values);
  if (!JSON_ONLY_ESCAPE.test(json)) return `{${json.slice(1, -1)}}`;
  let text = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) text += ',';
    text += arrayElement(values[i]);
  }
  return `${text}}`;
}

/** One element of a PostgreSQL array literal: NULL, or a double-quoted value with " and \ escaped. */
export function arrayElement(value: ArrayElement): string {
  if (value === null || value === undefined) return 'NULL';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return NEEDS_ESCAPE.test(text) ? `"${text.replace(ESCAPE, '\\$&')}"` : `"${text}"`;
}

/**
 * A query parameter with every flat array as its literal (objects in it as their JSON text, as
 * node-postgres would send them). Nested arrays and Buffers are left to node-postgres.
 */
export function arrayParam(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  let flat: ArrayElement[] | undefined;
  let lastDate: Date | undefined;
  let lastJson: unknown;
  for (let i = 0; i < value.length; i++) {
    const v: unknown = value[i];
    if (typeof v === 'bigint' || (typeof v === 'number' && !Number.isFinite(v))) {
      // JSON has no bigint, and would write NaN and Infinity as null.
      flat ??= value.slice();
      flat[i] = String(v);
      continue;
    }
    if (v instanceof Date) {
      // Its text, as JSON.stringify would write it: a Date inside JSON.stringify takes its slow path
      // (~1 µs each), and a batch's column of one instant (received_at) is one Date repeated.
      const json = v === lastDate ? lastJson : (lastJson = v.toJSON());
      lastDate = v;
      if (typeof json === 'string') {
        flat ??= value.slice();
        flat[i] = json;
      }
      continue;
    }
    if (v === null || v === undefined || typeof v !== 'object') continue;
    if (Array.isArray(v) || Buffer.isBuffer(v)) return value;
    flat ??= value.slice();
    flat[i] = JSON.stringify(v);
  }
  return arrayLiteral((flat ?? value) as ArrayElement[]);
}

const QUOTE = /'/g;
const BACKSLASH = /\\/g;

/**
 * A query parameter as an SQL literal (NULL, or quoted with `'` doubled; `E'…'` with `\` doubled
 * when it holds a backslash, so it reads the same whatever standard_conforming_strings says).
 * Arrays are written as by `arrayParam`, Dates as ISO (UTC), objects as their JSON text.
 */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const v = arrayParam(value);
  let text: string;
  if (typeof v === 'string') text = v;
  else if (v instanceof Date) text = v.toISOString();
  else if (typeof v === 'object') {
    if (Array.isArray(v) || Buffer.isBuffer(v)) throw new TypeError('nested arrays and Buffers cannot be written as SQL literals');
    text = JSON.stringify(v);
  } else text = String(v);
  text = text.replace(QUOTE, "''");
  return text.includes('\\') ? ` E'${text.replace(BACKSLASH, '\\\\')}'` : `'${text}'`;
}

/**
 * A statement with its `$n` parameters written in as literals, for the simple query protocol,
 * which can carry several statements in one round trip (node-postgres sends a query without
 * values that way). Only for statement texts of our own: a `$` inside a quoted string or a
 * dollar-quoted body would be replaced too.
 */
export function inlineParams(text: string, params: readonly unknown[] = []): string {
  return text.replace(/\$(\d+)/g, (_m, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= params.length) throw new RangeError(`statement refers to $${n} but has ${params.length} parameters`);
    return sqlLiteral(params[i]);
  });
}
