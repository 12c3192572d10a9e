import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { DeliverPolicy } from '@nats-io/jetstream';
import { BILLING_STREAM, EVENTS, chargeRequestsOf, usageIngestSubject, usagePartitionOf, WORK_SUBJECTS } from '@ledgerline/contracts';
import { startServiceForTest, TEST_DATABASE_URL, TEST_NATS_URL, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { filePlanSource, setLine, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const source = `crash-${run}`;
const LINES = 20;
const N = 8_000;
const children: ChildProcess[] = [];

// Small batches, one at a time: the kill must land mid-stream. With 500-event batches three at a time the consumer
// could rate all 8,000 between the test's look at "a first part rated" and the kill on a loaded CI machine.
function startConsumer(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./fixtures/usage-consumer.ts', import.meta.url).pathname], {
    env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, NATS_URL: TEST_NATS_URL, USAGE_DB_SCHEMA: svc.schema, USAGE_PORT: '0', USAGE_CONSUMER_PREFIX: `usage-crash-${run}`, LOG_LEVEL: 'error', USAGE_INGEST_BATCH: '100', USAGE_INGEST_CONCURRENCY: '1', USAGE_INGEST_ACK_WAIT_MS: '4000', USAGE_CHARGE_SWEEP_MS: '500', USAGE_CHARGE_RESEND_AFTER_MS: '3000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`consumer exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve(child));
  });
}

/**
 * ChargeRequests on the stream (what wallets receives) since `since`, for the given chargeIds:
 * how many messages each got. Stops once every id was seen and no more arrived for a while.
 */
async function publishedCharges(since: Date, ids: Set<string>, timeoutMs: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const consumer = await svc.runtime.messaging.js.consumers.get(BILLING_STREAM.name, { filter_subjects: WORK_SUBJECTS.chargeRequested, deliver_policy: DeliverPolicy.StartTime, opt_start_time: since.toISOString() });
  const messages = await consumer.consume();
  let quietSince = Date.now();
  const until = Date.now() + timeoutMs;
  const timer = setInterval(() => {
    const complete = [...ids].every((id) => seen.has(id));
    if ((complete && Date.now() - quietSince > 1500) || Date.now() > until) void messages.close();
  }, 200);
  for await (const m of messages) {
    for (const c of chargeRequestsOf(m.json()).requests) {
      if (!ids.has(c.chargeId)) continue;
      seen.set(c.chargeId, (seen.get(c.chargeId) ?? 0) + 1);
      quietSince = Date.now();
    }
  }
  clearInterval(timer);
  return seen;
}

const count = async (sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows[0].n as number;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }));
  db = await sqlOf(svc);
  for (let i = 0; i < LINES; i++) await setLine(svc, { lineId: `lin_c${i}`, msisdn: `+4915700000${String(i).padStart(3, '0')}`, account: `acc_c${i}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await db?.end();
  await svc?.close();
});

describe('crash', () => {
  it('a rating consumer killed with SIGKILL mid-stream and restarted rates and charges every event exactly once', async () => {
    const started = new Date(Date.now() - 1000);
    const first = await startConsumer();
    const js = svc.runtime.messaging.js;
    const now = Date.now();
    const publishes: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      const msisdn = `+4915700000${String(i % LINES).padStart(3, '0')}`;
      publishes.push(js.publish(usageIngestSubject(usagePartitionOf(msisdn)), JSON.stringify({ source, eventId: `e${i}`, msisdn, usageType: 'DATA', quantity: '30', occurredAt: new Date(now - 60_000).toISOString() })));
      if (publishes.length >= 500) await Promise.all(publishes.splice(0));
    }
    await Promise.all(publishes);
    await waitFor(async () => (await count('select count(*)::int as n from usage_record where source = $1', [source])) >= N / 8, 60_000, 'a first part to be rated');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = await count('select count(*)::int as n from usage_record where source = $1', [source]);
    expect(atKill).toBeLessThan(N);

    await startConsumer();
    await waitFor(async () => (await count('select count(*)::int as n from usage_record where source = $1', [source])) === N, 90_000, 'every event');
    // Let redeliveries of the batch in flight at the kill arrive and be recognised as duplicates.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await count(`select count(*)::int as n from usage_record where source = $1 and status = 'RATED'`, [source])).toBe(N);
    // Every record is the outbox of one charge; each reached the stream, the ones committed but not
    // published at the kill through the restarted consumer's sweeper. No wallets answers here, so
    // the sweeper also re-sends published ones after its grace time: a charge is on the stream at
    // most once per send (the first, and each re-send counted in charge_attempts), and never lost
    // (wallets applies a chargeId once and answers a repeat from its ledger).
    const stored = await db.query(`select id, charge from usage_record where source = $1 and charge is not null`, [source]);
    expect(stored.rows).toHaveLength(N);
    const ids = new Set<string>(stored.rows.map((r) => r.id));
    expect(stored.rows.every((r) => JSON.parse(r.charge).chargeId === r.id)).toBe(true);
    const onStream = await publishedCharges(started, ids, 60_000);
    expect(onStream.size).toBe(N);
    const attempts = new Map<string, number>((await db.query(`select u.id, p.charge_attempts from usage_record u join pending_charge p on p.usage_record_id = u.id where u.source = $1`, [source])).rows.map((r) => [r.id, r.charge_attempts]));
    expect([...onStream].filter(([id, n]) => n > 1 + attempts.get(id)!)).toEqual([]);
    // The live counters (the facts each event is rated with) moved exactly once per event across
    // the crash: 400 × 30 MB per line, 10240 MB from the bundle and 1760 MB at 0.02 EUR.
    const perLine = await db.query(`select line_id, sum(from_allowance)::text as bundle, sum(spend)::text as spend, count(*)::int as n from usage_record where source = $1 group by line_id`, [source]);
    expect(perLine.rows).toHaveLength(LINES);
    for (const row of perLine.rows) {
      expect(row.n).toBe(N / LINES);
      expect(Number(row.bundle)).toBe(10240);
      expect(row.spend).toMatch(/^35\.2/);
    }
    expect(await count(`select count(*)::int as n from outbox where subject = $1`, [EVENTS.usageThresholdReached.subject])).toBe(3 * LINES);
  }, 180_000);
});
