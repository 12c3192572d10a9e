/**
 * Usage's outbox write keeps the first row of an id (a replay of the same notice is a no-op) but
 * refuses a different event that got the same id (EVENT_ID_COLLISION: same CloudEvents type and
 * key, another subject), which it used to drop without a trace. The check asks the database only
 * when the insert kept a row out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { eventRow, insertOutbox } from '../src/application/outbox-rows';
import type { SqlClient } from '../src/persistence/sql';
import { filePlanSource, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const T = new Date('2026-03-20T12:00:00Z');

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }));
  db = await sqlOf(svc);
});
afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const client = () => db as unknown as SqlClient;
const subjectsOf = async (id: string) => (await db.query<{ subject: string }>(`select subject from outbox where id = $1`, [id])).rows.map((r) => r.subject);

describe('usage outbox event ids', () => {
  it('keeps a replay once and refuses another event with the same id, in the transaction of the write', async () => {
    const key = [`lin_${run}`, '2026-03-20', 'x'];
    const first = eventRow('usageThresholdReached', `line:${run}`, key, { percent: 80 }, T);
    expect(await insertOutbox(client(), [first])).toBe(1);
    expect(await insertOutbox(client(), [first], new Set())).toBe(0);
    expect(await insertOutbox(client(), [{ ...first, once: true }])).toBe(0);
    expect(await subjectsOf(first.id)).toEqual(['billing.usage.allowance.threshold']);

    // A made-up event sharing the type's id: what a second event name of one type with the same key would do.
    const other = { ...first, subject: 'billing.usage.allowance.other', payload: '{}' };
    await db.query('begin');
    await expect(insertOutbox(client(), [other])).rejects.toMatchObject({ code: 'EVENT_ID_COLLISION', details: { id: first.id, takenBy: 'billing.usage.allowance.threshold' } });
    await db.query('rollback');
    await db.query('begin');
    await expect(insertOutbox(client(), [{ ...other, once: true }])).rejects.toMatchObject({ code: 'EVENT_ID_COLLISION' });
    await db.query('rollback');
    await expect(insertOutbox(client(), [{ ...first, id: `${first.id}-b` }, { ...other, id: `${first.id}-b` }])).rejects.toMatchObject({ code: 'EVENT_ID_COLLISION' });
    expect(await subjectsOf(`${first.id}-b`)).toEqual([]);
    expect(await subjectsOf(first.id)).toEqual(['billing.usage.allowance.threshold']);
  });
});
