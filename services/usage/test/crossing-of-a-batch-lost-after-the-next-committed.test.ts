/**
 * A threshold crossed by committed usage is announced exactly once, also when the batch whose event
 * crossed it is lost after the batch rated next was committed; and two batches written at once that
 * ask for the same notices do not deadlock (the way batch k was lost in crash.test.ts).
 *
 * The pipeline rates batch k+1 while batch k is written, on counters that already hold batch k, and
 * the two writes run side by side: k+1 can commit first. When batch k's transaction then dies (the
 * process killed with SIGKILL, as in crash.test.ts, or its COMMIT failing), batch k+1 is stored
 * with no crossing (it was rated past the threshold), and batch k, rated again - by the restarted
 * consumer, or by the consumer's retry - is rated on counters loaded from the records, k+1's
 * included: already past the threshold, so none of its events crosses it either. The crossing was
 * lost for every line whose threshold fell in batch k (crash.test.ts once found 40 threshold events
 * of 60 so: every line's crossing of one batch).
 *
 * Here batch k's COMMIT is held while batch k+1 is rated and committed, then fails.
 *
 * How batch k's write failed in CI: batch k+1 asks for the notices batch k's crossings ask for
 * (notify-data-50 fires on every event from 50 % to 80 %), so its insert into emitted_event waits
 * for batch k's rows; when the two batches hold their lines in other orders (a redelivered batch
 * beside new messages), each waits for the other and PostgreSQL ends one with "deadlock detected".
 * When that is batch k, batch k+1 commits and batch k is rated again past the threshold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { EVENTS } from '@ledgerline/contracts';
import { startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { UsagePipeline } from '../src/application/usage-pipeline';
import { usageRuntimeOf } from '../src/usage-runtime';
import { eventIdOf } from '../src/application/outbox-rows';
import { feePeriodOf } from '../src/application/usage-pipeline';
import { linePeriodAt } from '../src/domain/period';
import { versionAt } from '../src/domain/subscriber';
import { filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const source = `lostk-${run}`;

/**
 * Holds the next pipeline transaction at its COMMIT until `fail` is called, and then fails it
 * instead (the transaction is rolled back: as if the connection or the process died there).
 */
function failNextCommit(): { held: Promise<void>; fail: () => void } {
  const pool = usageRuntimeOf(svc.runtime).sql as unknown as { connect: (cb?: unknown) => Promise<any> };
  const connect = pool.connect;
  let reached!: () => void;
  const held = new Promise<void>((r) => (reached = r));
  let fail!: () => void;
  const failed = new Promise<void>((r) => (fail = r));
  pool.connect = (cb?: unknown) => {
    if (typeof cb === 'function') return connect.call(pool, cb);
    pool.connect = connect;
    return connect.call(pool).then((client: any) => {
      const query = client.query;
      client.query = async (...args: unknown[]) => {
        if (args[0] === 'commit') {
          reached();
          await failed;
          throw new Error('Connection terminated unexpectedly');
        }
        return query.apply(client, args);
      };
      const release = client.release;
      client.release = (...args: unknown[]) => {
        delete client.query;
        delete client.release;
        return release.apply(client, args);
      };
      return client;
    });
  };
  return { held, fail };
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }));
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const batch = (line: string, prefix: string, n: number, mb: string) =>
  Array.from({ length: n }, (_, i) => ({ source, raw: { source, eventId: `${line}:${prefix}${i}`, lineId: line, usageType: 'DATA', quantity: mb, occurredAt: new Date(Date.now() - 60_000).toISOString() } }));

async function thresholdsOf(line: string): Promise<string[]> {
  // The line's id narrows the read (the outbox holds every earlier test's events); the payload's lineId decides.
  const { rows } = await db.query(`select payload from outbox where subject = $1 and payload like $2 order by seq`, [EVENTS.usageThresholdReached.subject, `%${line}%`]);
  return rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.lineId === line).map((d) => d.threshold);
}

/**
 * Batch k (600 MB: 4,800 → 5,400 of the 10,240 MB bundle, crosses 50 % at 5,120) is written while
 * batch k+1 (600 MB more) is rated on top of it and committed; then k's write fails. `again` rates
 * batch k a second time, as its redelivery or retry does.
 */
async function loseBatchAfterTheNext(line: string, again: (k: ReturnType<typeof batch>) => Promise<unknown>): Promise<void> {
  await setLine(svc, { lineId: line, msisdn: `+49159${String(Date.now()).slice(-7)}`, account: `acc_${line}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
  const pipeline = usageRuntimeOf(svc.runtime).pipeline;
  await pipeline.process(batch(line, 'a', 16, '300')); // 4,800 MB
  const k = batch(line, 'k', 2, '300');
  const { held, fail } = failNextCommit();
  const first = pipeline.process(k);
  first.catch(() => undefined);
  await held;
  // Batch k+1 is rated on counters holding batch k; its write asks for the 50 % notice k's
  // uncommitted write holds in emitted_event, so it waits for k's transaction to end.
  const next = pipeline.process(batch(line, 'n', 2, '300'));
  await pipeline.ratingDone();
  fail();
  await expect(first).rejects.toThrow('Connection terminated');
  expect((await next).every((o) => o.status === 'RATED' && !o.duplicate)).toBe(true);
  // Batch k+1 is stored: rated past 50 %, it announced no crossing.
  expect(await thresholdsOf(line)).toEqual([]);

  const outcomes = (await again(k)) as { status: string; duplicate: boolean }[];
  expect(outcomes.every((o) => o.status === 'RATED' && !o.duplicate)).toBe(true);
  const [{ n, mb }] = (await db.query(`select count(*)::int as n, sum(quantity)::text as mb from usage_record where line_id = $1`, [line])).rows;
  expect([n, Number(mb)]).toEqual([20, 6000]);
  expect(await thresholdsOf(line)).toEqual(['0.5']);
}

describe('a batch lost after the batch rated next was committed', () => {
  it('rated again by the restarted consumer: its threshold crossing is announced once', async () => {
    const line = `lin_lostk_r${run}`;
    // A fresh pipeline on the same database: the process restarted, nothing in memory.
    await loseBatchAfterTheNext(line, (k) => new UsagePipeline(usageRuntimeOf(svc.runtime).pipeline.deps).process(k));
    // Rated once more (another redelivery) or loaded again after a restart: not announced twice.
    const again = new UsagePipeline(usageRuntimeOf(svc.runtime).pipeline.deps);
    await again.process(batch(line, 'z', 1, '300'));
    expect(await thresholdsOf(line)).toEqual(['0.5']);
  });

  it("retried by the consumer in the same process: its threshold crossing is announced once", async () => {
    await loseBatchAfterTheNext(`lin_lostk_s${run}`, (k) => usageRuntimeOf(svc.runtime).pipeline.process(k));
  });

  it('two batches asking for the same notices in other line orders, written at once, do not deadlock', async () => {
    const [l1, l2] = [`lin_lostk_d1${run}`, `lin_lostk_d2${run}`];
    for (const [i, l] of [l1, l2].entries()) await setLine(svc, { lineId: l, msisdn: `+49157${i}${String(Date.now()).slice(-6)}`, account: `acc_${l}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
    const usage = usageRuntimeOf(svc.runtime);
    const pipeline = usage.pipeline;
    await pipeline.process([...batch(l1, 'a', 16, '300'), ...batch(l2, 'a', 16, '300')]); // 4,800 MB each
    // Batch k crosses 50 % on both lines (l1 first), batch k+1 asks for both 50 % notices (l2 first).
    const k = [...batch(l1, 'k', 1, '600'), ...batch(l2, 'k', 1, '600')];
    const next = [...batch(l2, 'n', 1, '600'), ...batch(l1, 'n', 1, '600')];
    // Batch k's write is held at l2's 50 % crossing (another transaction holds that id), once it holds l1's rows.
    const line2 = (await usage.directory.load(l2))!;
    const at = new Date(Date.now() - 60_000);
    const version = versionAt(line2, at)!;
    const plan = await usage.plans.get(version.planVersionId);
    const period = linePeriodAt(line2, version, plan.ok ? feePeriodOf(plan.rater) : undefined, at);
    const blocker = await sqlOf(svc);
    const failures: string[] = [];
    try {
      await blocker.query('begin');
      await blocker.query('insert into emitted_event (id, created_at) values ($1, now())', [eventIdOf('usageThresholdReached', [l2, period.start.toISOString(), 'data', '0.5'])]);
      // As the ingest consumer does: a failed batch is retried.
      const write = async (b: typeof k, name: string) => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await pipeline.process(b);
          } catch (error) {
            failures.push(`${name}: ${String(error)}`);
            if (attempt === 3) throw error;
          }
        }
      };
      const writes = [write(k, 'k'), write(next, 'k+1')];
      await pipeline.ratingDone();
      await new Promise((r) => setTimeout(r, 500)); // both writes reach emitted_event
      await blocker.query('rollback');
      await Promise.all(writes);
    } finally {
      await blocker.end();
    }
    expect(failures).toEqual([]);
    expect([await thresholdsOf(l1), await thresholdsOf(l2)]).toEqual([['0.5'], ['0.5']]);
  });
});
