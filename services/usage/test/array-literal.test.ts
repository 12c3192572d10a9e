/**
 * The batch insert's array literals (JSON.stringify of each column, see arrayLiteral) read back
 * exactly what was written, on a real PostgreSQL: quotes, backslashes, control characters (the
 * slow path), the text "NULL", braces and commas, non-ASCII, JSON documents, numbers, Dates, null.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { TEST_DATABASE_URL } from '@ledgerline/platform';
import { arrayLiteral, insertArrayRows } from '../src/persistence/sql';

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

describe('array literals of the batch insert', () => {
  it('read back every awkward text exactly, through the fast path and the slow one', async () => {
    const rows = awkward.map((t, n) => [n, t, n === 3 ? null : `${n}.25`, new Date(Date.UTC(2026, 10, 26, 12, 0, n))]);
    await insertArrayRows(db, table, ['n', 't', 'q', 'at'], ['int', 'text', 'numeric', 'timestamptz'], rows);
    const back = (await db.query<{ n: number; t: string | null; q: string | null; at: Date }>(`select n, t, q::text, at from ${table} order by n`)).rows;
    expect(back.map((r) => r.t)).toEqual(awkward);
    expect(back.map((r) => r.q)).toEqual(rows.map((r) => (r[2] === null ? null : Number(r[2]).toFixed(6))));
    expect(back.map((r) => r.at.toISOString())).toEqual(rows.map((r) => (r[3] as Date).toISOString()));
  });

  it('take the fast path (one JSON.stringify) unless a JSON-only escape appears', () => {
    expect(arrayLiteral(['a "b"', null, 1.5, true])).toBe('{"a \\"b\\"",null,1.5,true}');
    expect(arrayLiteral(['x\ny'])).toBe('{"x\ny"}');
  });

  it('store other objects as their JSON text', async () => {
    await db.query(`truncate ${table}`);
    await insertArrayRows(db, table, ['n', 't'], ['int', 'text'], [[1, { rule: 'r', note: 'a\nb' }], [2, ['x', null]]]);
    const back = (await db.query<{ t: string }>(`select t from ${table} order by n`)).rows.map((r) => JSON.parse(r.t));
    expect(back).toEqual([{ rule: 'r', note: 'a\nb' }, ['x', null]]);
  });
});
