/**
 * A bill usage applies while a re-rate runs (STATUS.md, last session: "A bill applied while a re-rate
 * runs can leave an adjustment without `adjustsInvoiceId`"). The re-rate read the billed periods
 * (billed_period) with its records, long before its transaction wrote the adjustments; a bill of the
 * period applied in between (customerBillCreated → markPeriodBilled) was not seen, and the adjustment
 * of a record that invoice billed went to the ledger naming no invoice (invoicing then matched it by
 * date). Now the re-rate reads the billed periods in the transaction that writes its adjustments,
 * under a lock per account that applying a bill takes too, so an adjustment written after a bill of
 * its period was applied names that invoice.
 *
 * The interleavings are fixed by the test, not by timing: (1) the bill is applied and committed just
 * before the re-rate's write transaction begins (the hook is on the connection that transaction asks
 * for); (2) the bill's transaction has written everything and holds its COMMIT while the re-rate
 * writes: the COMMIT is released once the re-rate's transaction waits on the bill's (or, on code
 * that does not wait, once the re-rate has finished). Real PostgreSQL; wallets' answers are written
 * as applyChargeResults stores them (settleCharges).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { ChargeRequest } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { markPeriodBilled } from '../src/application/mark-billed';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, settleCharges, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-03-05T05:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);

type Plan = { rules: { name: string; event: { params: Record<string, unknown> } }[] };
// A catalog correction: world roaming data at 0.39 instead of 0.49 per MB.
const cheaper = planDocument('postpaid-20gb.json') as Plan;
cheaper.rules.find((r) => r.name === 'roaming-world-data')!.event.params.pricePerUnit = '0.3900';
const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId chargeId } } }`;

type Connect = (cb?: unknown) => Promise<pg.PoolClient>;
const pool = () => usageRuntimeOf(svc.runtime).sql as unknown as { connect: Connect };

/**
 * Runs `before` (once) when the re-rate asks for the connection of a transaction (its write: the only
 * transaction reratePeriod opens), before the connection is handed to it.
 */
function beforeRerateTransaction(before: () => Promise<void>): void {
  const p = pool();
  const connect = p.connect.bind(p);
  let armed = true;
  p.connect = ((cb?: unknown) => {
    if (typeof cb === 'function' || !armed || !/rerate-period/.test(new Error().stack ?? '')) return connect(cb);
    armed = false;
    p.connect = connect;
    return before().then(() => connect());
  }) as Connect;
}

/** The next transaction's connection (the bill's, started right after): its COMMIT waits for `release`; `pid` its backend. */
function holdNextCommit() {
  const p = pool();
  const connect = p.connect.bind(p);
  let reached!: (pid: number) => void;
  const held = new Promise<number>((r) => (reached = r));
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  p.connect = ((cb?: unknown) => {
    if (typeof cb === 'function') return connect(cb);
    p.connect = connect;
    return connect().then((client) => {
      const c = client as pg.PoolClient & { processID: number };
      const query = c.query.bind(c) as (...args: unknown[]) => Promise<unknown>;
      (c as unknown as { query: unknown }).query = async (...args: unknown[]) => {
        if (args[0] === 'commit') {
          reached(c.processID);
          await released;
          delete (c as unknown as { query?: unknown }).query;
        }
        return query(...args);
      };
      return client;
    });
  }) as Connect;
  return { held, release };
}

async function account(tag: string) {
  const a = { account: `acc_${tag}${run}`, line: `lin_${tag}${run}` };
  await setLine(svc, { lineId: a.line, msisdn: `+49156${String(Date.now()).slice(-7)}`, account: a.account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-01-01T00:00:00Z', at: '2026-01-01T00:00:00Z', subscriptionId: `sub_${tag}${run}` });
  return a;
}

/** 10 MB of world roaming on 10 February (4.90), charged and settled. */
async function february(a: { line: string }) {
  const res = await svc.request(RECORD_USAGE, { input: { source: `bm-${a.line}`, records: [{ eventId: 'feb-us', lineId: a.line, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt: '2026-02-10T10:00:00Z' }] } });
  expect(res.errors).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
  expect(await settleCharges(db, [a.line], 'APPLIED')).toBe(1);
}

/** February's invoice, issued after the record was rated. */
const bill = (a: { account: string }, invoiceId: string) => ({ invoiceId, billingAccountId: a.account, periodStart: new Date('2026-02-01T00:00:00Z'), periodEnd: new Date('2026-03-01T00:00:00Z'), issuedAt: new Date('2026-03-05T06:00:00Z') });

async function rerate(a: { account: string }) {
  const res = await svc.request(RERATE, { i: { billingAccountId: a.account, period: '2026-02', planVersionId: 'plv_fixed' } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.rerate as { recordsRerated: number; adjustments: { chargeId: string }[] };
}

/** The adjustment as kept (what the sweeper re-sends) and as sent (the outbox). */
async function adjustmentsOf(a: { account: string }) {
  const kept = (await db.query<{ charge: string }>('select charge from rerate_adjustment where billing_account_id = $1', [a.account])).rows.map((r) => JSON.parse(r.charge) as ChargeRequest);
  const sent = (await db.query<{ payload: string }>(`select payload from outbox where payload like '%"kind":"ADJUSTMENT"%' and payload like $1`, [`%${a.account}%`])).rows.map((r) => JSON.parse(r.payload) as ChargeRequest);
  return { kept: kept.map((c) => c.adjustsInvoiceId ?? null), sent: sent.map((c) => c.adjustsInvoiceId ?? null) };
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_fixed: cheaper }), consumers: [] }), { clock });
  db = await sqlOf(svc);
}, 60_000);

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('a bill of the period applied while a re-rate of it runs', () => {
  it('committed between the re-rate\'s reads and its write: the adjustment names the invoice', async () => {
    clock.set('2026-03-05T05:00:00Z');
    const a = await account('bm1');
    await february(a);
    clock.set('2026-03-05T07:00:00Z');
    const invoice = `inv_bm1_${run}`;
    beforeRerateTransaction(async () => {
      expect(await markPeriodBilled(usageRuntimeOf(svc.runtime).sql, bill(a, invoice))).toBe(1);
    });
    const rerated = await rerate(a);
    expect(rerated.adjustments).toHaveLength(1);
    // Before: { kept: [null], sent: [null] } - the re-rate's billed periods were read before the bill was applied.
    expect(await adjustmentsOf(a)).toEqual({ kept: [invoice], sent: [invoice] });
    // Re-rated after the invoice billed it: waits for its adjustment to be billed.
    expect((await db.query('select status from usage_record where line_id = $1', [a.line])).rows[0].status).toBe('RERATED');
  });

  it('in the bill\'s transaction while the re-rate writes: the re-rate waits for it and names the invoice', async () => {
    clock.set('2026-03-05T05:00:00Z');
    const a = await account('bm2');
    await february(a);
    clock.set('2026-03-05T07:00:00Z');
    const invoice = `inv_bm2_${run}`;
    let applying: Promise<number> | undefined;
    let waited = false;
    beforeRerateTransaction(async () => {
      // The bill's transaction writes everything and holds its COMMIT; then the re-rate's transaction begins.
      const hold = holdNextCommit();
      applying = markPeriodBilled(usageRuntimeOf(svc.runtime).sql, bill(a, invoice));
      const billPid = await hold.held;
      // Released once the re-rate's transaction waits on the bill's (or, where it does not wait, has finished).
      void waitFor(async () => {
        if (await Promise.race([rerating.then(() => true, () => true), new Promise<false>((r) => setTimeout(() => r(false), 20))])) return true;
        waited = (await db.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [billPid])).rows[0]!.n > 0;
        return waited;
      }, 20_000, 'the re-rate to wait on the bill or finish').then(hold.release, hold.release);
    });
    const rerating = rerate(a);
    const rerated = (await rerating) as Awaited<ReturnType<typeof rerate>>;
    expect(await applying).toBe(1);
    // The interleaving the test is about: the re-rate's transaction ran into the bill's before it committed.
    expect(waited).toBe(true);
    expect(rerated.adjustments).toHaveLength(1);
    // Before: { kept: [null], sent: [null] }.
    expect(await adjustmentsOf(a)).toEqual({ kept: [invoice], sent: [invoice] });
    expect((await db.query('select status from usage_record where line_id = $1', [a.line])).rows[0].status).toBe('RERATED');
  });
});
