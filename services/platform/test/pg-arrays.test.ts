/**
 * Batch statements' array parameters written as literals by one JSON.stringify (arrayParam) read
 * back exactly what was written, on a real PostgreSQL: quotes, backslashes, control characters
 * (the slow path), the text "NULL", braces and commas, non-ASCII, JSON documents, numbers, bigint,
 * NaN, Dates, null, objects (stored as JSON text) and nested arrays (left to node-postgres); and
 * the same values written into statements as literals (inlineParams), several statements in one
 * round trip of the simple query protocol.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { TEST_DATABASE_URL } from '../src/testing';
import { arrayLiteral, arrayParam, inlineParams, sqlLiteral } from '../src/pg-arrays';

let db: pg.Client;
const table = `array_literal_${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  db = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await db.connect();
  await db.query(`create temporary table ${table} (n int, t text, q numeric(20,6), at timestamptz)`);
});

afterAll(async () => {
  await db?.end();
});

const awkward = [
  'plain', '', 'NULL', 'null', 'with "quotes"', 'back\\slash', 'a \\n that is two characters', 'line\nbreak', 'tab\tand\rreturn',
  '\u0001 bell', '{braces}, commas', '  spaces  ', 'grüße 👋', '{"planCode":"P","rules":[{"rule":"r \\"x\\""}]}', null,
];

const insert = (columns: unknown[][]) =>
  db.query(`insert into ${table} (n, t, q, at) select * from unnest($1::int[], $2::text[], $3::numeric[], $4::timestamptz[])`, columns.map(arrayParam));

describe('array parameters as literals', () => {
  it('read back every awkward text exactly, through the fast path and the slow one', async () => {
    const n = awkward.map((_, i) => i);
    const q = n.map((i) => (i === 3 ? null : `${i}.25`));
    const at = n.map((i) => new Date(Date.UTC(2026, 10, 26, 12, 0, i)));
    await insert([n, awkward, q, at]);
    const back = (await db.query<{ t: string | null; q: string | null; at: Date }>(`select t, q::text, at from ${table} order by n`)).rows;
    expect(back.map((r) => r.t)).toEqual(awkward);
    expect(back.map((r) => r.q)).toEqual(q.map((v) => (v === null ? null : Number(v).toFixed(6))));
    expect(back.map((r) => r.at.toISOString())).toEqual(at.map((d) => d.toISOString()));
  });

  it('take the fast path (one JSON.stringify) unless a JSON-only escape appears', () => {
    expect(arrayLiteral(['a "b"', null, 1.5, true])).toBe('{"a \\"b\\"",null,1.5,true}');
    expect(arrayLiteral(['x\ny'])).toBe('{"x\ny"}');
  });

  it('store objects as their JSON text, bigint and NaN as PostgreSQL reads them, and serve = any() without a cast', async () => {
    await db.query(`truncate ${table}`);
    await insert([[1, 2, 3], [{ rule: 'r', note: 'a\nb' }, { list: ['x', null] }, 'plain'], [10n ** 12n, Number.NaN, 0.5], [null, null, null]]);
    const rows = (await db.query<{ n: number; t: string; q: string }>(`select n, t, q::text from ${table} where n = any($1) order by n`, [arrayParam([1, 2])])).rows;
    expect(rows.map((r) => JSON.parse(r.t))).toEqual([{ rule: 'r', note: 'a\nb' }, { list: ['x', null] }]);
    expect(rows.map((r) => r.q)).toEqual(['1000000000000.000000', 'NaN']);
  });

  it('write Dates as JSON.stringify would, a repeated one and an invalid one too, on either path', () => {
    const at = new Date(Date.UTC(2026, 10, 29, 10, 0, 0, 5));
    const later = new Date(Date.UTC(2026, 10, 29, 10, 0, 1));
    const values = [at, at, later, null, new Date(Number.NaN), 'x'];
    expect(arrayParam(values)).toBe(`{${JSON.stringify(values).slice(1, -1)}}`);
    expect(arrayParam(values)).toBe('{"2026-11-29T10:00:00.005Z","2026-11-29T10:00:00.005Z","2026-11-29T10:00:01.000Z",null,null,"x"}');
    // The element-by-element path (a control character elsewhere) writes the same instants.
    expect(arrayParam([at, 'a\nb', at, later])).toBe('{"2026-11-29T10:00:00.005Z","a\nb","2026-11-29T10:00:00.005Z","2026-11-29T10:00:01.000Z"}');
    expect(values[0]).toBe(at);
  });

  it('leave nested arrays to node-postgres', () => {
    const nested = [['a', 'b'], ['c', 'd']];
    expect(arrayParam(nested)).toBe(nested);
  });
});

describe('parameters written into the statement (simple query protocol)', () => {
  it('read back every awkward text, array and scalar exactly, whatever standard_conforming_strings says', async () => {
    for (const conforming of ['on', 'off']) {
      await db.query(`set standard_conforming_strings = ${conforming}`);
      await db.query(`truncate ${table}`);
      const n = awkward.map((_, i) => i);
      const text = [
        inlineParams(`insert into ${table} (n, t, q, at) select * from unnest($1::int[], $2::text[], $3::numeric[], $4::timestamptz[])`, [n, awkward, n.map((i) => `${i}.5`), n.map((i) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)))]),
        ...awkward.map((t, i) => inlineParams(`insert into ${table} (n, t, q, at) values ($1, $2, $3, $4)`, [100 + i, t, 0.25, new Date(Date.UTC(2026, 0, 2))])),
        inlineParams(`select t from ${table} where n = any($1::int[]) order by n`, [n]),
        inlineParams(`select t from ${table} where n >= $1 order by n`, [100]),
      ].join(';\n');
      const results = (await db.query(text)) as unknown as pg.QueryResult<{ t: string | null }>[];
      expect(results).toHaveLength(awkward.length + 3);
      expect(results.at(-2)!.rows.map((r) => r.t)).toEqual(awkward);
      expect(results.at(-1)!.rows.map((r) => r.t)).toEqual(awkward);
    }
    await db.query('set standard_conforming_strings = on');
  });

  it('write NULL, numbers, booleans, Dates in UTC and objects as JSON; refuse a parameter that is not there', () => {
    expect([null, undefined, 12, 1.5, true].map(sqlLiteral)).toEqual(['NULL', 'NULL', "'12'", "'1.5'", "'true'"]);
    expect(sqlLiteral(new Date(Date.UTC(2026, 10, 26, 1, 2, 3)))).toBe("'2026-11-26T01:02:03.000Z'");
    expect(sqlLiteral({ a: "it's" })).toBe(`'{"a":"it''s"}'`);
    expect(sqlLiteral('a\\b')).toBe(" E'a\\\\b'");
    expect(() => inlineParams('select $2', [1])).toThrow(/\$2/);
  });
});
