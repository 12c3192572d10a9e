// The bill-cycle backfill (src/bill-cycle-backfill.ts) against the real subscribers service and
// Temporal's time-skipping test server. Accounts opened before the bill-cycle bridge ran had no
// cycle (only an operator's bill run billed them): the backfill lists subscribers' open postpaid
// accounts (`billingAccounts`, page by page) and starts the cycle of each that has none running,
// from the cycle period containing now, through the bridge's `startBillCycle`. Run twice, or two at
// once: one workflow per account. Prepaid and closed accounts: none. A dry run starts nothing. An
// account closed between the listing and the start gets its cycle told `accountClosed`.
import { defaultPayloadConverter } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callerHeaders, DEV_INTERNAL_SECRET, SYSTEM_CALLER } from '@ledgerline/platform';
import { backfillBillCycles, cycleStatus, GraphqlPostpaidAccountsClient, type BackfillEntry, type PostpaidAccountsPort } from '../src/bill-cycle-backfill';
import { startBillCycle } from '../src/client';
import { billCycleWorkflowId, periodContaining } from '../src/domain/bill-cycle';
import type { BillCycleInput, BillCycleResult } from '../src/workflows/bill-cycle';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle } from './support/env';
// The real subscribers service (test files only).
import { startHarness, type Harness } from '../../services/subscribers/test/support';

let env: TestWorkflowEnvironment;
let h: Harness;
beforeAll(async () => {
  // Subscribers' clock a minute behind Temporal's start: an account closes in the cycle's open period.
  [env, h] = await Promise.all([createTimeSkippingEnv(), startHarness({ now: new Date(Date.now() - 60_000).toISOString() }), workflowBundle()]);
}, 60_000);
afterAll(async () => {
  await h?.close();
  await env?.teardown();
});

const TZ = 'Europe/Berlin';
/** The worker's client: straight to the subgraph as SYSTEM (the worker goes through the gateway with its token). */
const accounts = () => new GraphqlPostpaidAccountsClient({ url: h.subscribers.url, headers: () => callerHeaders(SYSTEM_CALLER, DEV_INTERNAL_SECRET) });

async function openAccount(paymentMode: 'PREPAID' | 'POSTPAID', billCycleDay = 1, timezone = TZ): Promise<string> {
  h.clock.advance(1000);
  const c = (await h.ok(`mutation { createCustomer(input: { name: "Olga Older", kind: INDIVIDUAL }) { customer { id } } }`, {})).createCustomer.customer.id as string;
  return (
    await h.ok(`mutation($c: ID!, $m: PaymentMode!, $d: Int, $z: String) { openBillingAccount(input: { customerId: $c, paymentMode: $m, currency: "EUR", billCycleDay: $d, timezone: $z }) { billingAccount { id } } }`, {
      c,
      m: paymentMode,
      d: billCycleDay,
      z: timezone,
    })
  ).openBillingAccount.billingAccount.id as string;
}
const closeAccount = async (id: string): Promise<string> => {
  h.clock.advance(1000);
  return (await h.ok(`mutation($i: CloseBillingAccountInput!) { closeBillingAccount(input: $i) { billingAccount { closedAt } } }`, { i: { billingAccountId: id, reason: 'Moving abroad', idempotencyKey: `close-${id}` } }))
    .closeBillingAccount.billingAccount.closedAt as string;
};

const status = (accountId: string) => cycleStatus(env.client, accountId);
async function history(accountId: string) {
  const events = (await env.client.workflow.getHandle(billCycleWorkflowId(accountId)).fetchHistory()).events ?? [];
  const started = events.filter((e) => e.workflowExecutionStartedEventAttributes);
  return { starts: started.length, input: defaultPayloadConverter.fromPayload<BillCycleInput>(started[0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!) };
}
const byAccount = (entries: BackfillEntry[], ids: string[]) => Object.fromEntries(entries.filter((e) => ids.includes(e.billingAccountId)).map((e) => [e.billingAccountId, e.action]));

describe('bill-cycle backfill: open postpaid accounts without a running cycle get one', () => {
  it('starts the cycle of accounts opened before the bridge, once however often it runs; none for prepaid or closed accounts; a dry run starts nothing', async () => {
    const taskQueue = uniqueId('tq');
    const systems = fakeSystems();
    const A = await openAccount('POSTPAID');
    const B = await openAccount('POSTPAID', 15, 'America/New_York');
    const P = await openAccount('PREPAID');
    const C = await openAccount('POSTPAID');
    await closeAccount(C);
    // R opened after the bridge ran: its cycle already runs.
    const R = await openAccount('POSTPAID');
    const ids = [A, B, P, C, R];
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
    await worker.runUntil(async () => {
      const now = new Date(await env.currentTimeMs());
      await startBillCycle(env.client, { billingAccountId: R, billCycleDay: 1, timezone: TZ, startFrom: periodContaining(now, 1, TZ).periodStart }, { taskQueue });
      const run = (dryRun = false) => backfillBillCycles({ accounts: accounts(), client: env.client, taskQueue, now, dryRun, pageSize: 2 });

      // Dry run: says what it would start, starts nothing.
      const dry = await run(true);
      expect(dry.dryRun).toBe(true);
      expect(byAccount(dry.entries, ids)).toEqual({ [A]: 'would-start', [B]: 'would-start', [R]: 'skipped' });
      expect(await status(A)).toBeNull();
      expect(await status(B)).toBeNull();

      // Two at once (two workers starting, or the CLI beside a worker), then a third.
      const [one, two] = await Promise.all([run(), run()]);
      expect(one.failed + two.failed).toBe(0);
      // Pages of 2: every open postpaid account read (3 of this test), prepaid P and closed C never.
      expect(one.examined).toBe(3);
      expect(one.entries.map((e) => e.billingAccountId).sort()).toEqual([A, B, R].sort());
      for (const id of [A, B]) {
        expect(await status(id)).toBe('RUNNING');
        expect((await history(id)).starts, 'one workflow per account').toBe(1);
      }
      expect((await history(R)).starts).toBe(1);
      expect((await history(A)).input).toEqual({ billingAccountId: A, billCycleDay: 1, timezone: TZ, startFrom: periodContaining(now, 1, TZ).periodStart });
      expect((await history(B)).input).toEqual({ billingAccountId: B, billCycleDay: 15, timezone: 'America/New_York', startFrom: periodContaining(now, 15, 'America/New_York').periodStart });
      expect(await status(P)).toBeNull();
      expect(await status(C)).toBeNull();

      const again = await run();
      expect(again.entries.map((e) => [e.billingAccountId, e.action]).sort()).toEqual([A, B, R].sort().map((id) => [id, 'skipped']));
      for (const id of [A, B]) expect((await history(id)).starts).toBe(1);
    });
  });

  it('a cycle an operator terminated stays ended unless asked (restartEnded)', async () => {
    const taskQueue = uniqueId('tq');
    const systems = fakeSystems();
    const T = await openAccount('POSTPAID');
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
    await worker.runUntil(async () => {
      const now = new Date(await env.currentTimeMs());
      await startBillCycle(env.client, { billingAccountId: T, billCycleDay: 1, timezone: TZ, startFrom: periodContaining(now, 1, TZ).periodStart }, { taskQueue });
      await env.client.workflow.getHandle(billCycleWorkflowId(T)).terminate('moved to manual billing');
      expect(await status(T)).toBe('TERMINATED');
      const only = (entries: BackfillEntry[]) => entries.filter((e) => e.billingAccountId === T);

      // The worker's backfill at start (BILL_CYCLE_BACKFILL=on) must not bring it back.
      const plain = await backfillBillCycles({ accounts: accounts(), client: env.client, taskQueue, now });
      expect(only(plain.entries)).toEqual([{ billingAccountId: T, action: 'skipped', reason: expect.stringContaining('terminated by an operator') }]);
      expect(await status(T)).toBe('TERMINATED');

      // Asked for: started again, naming what it replaces.
      const dry = await backfillBillCycles({ accounts: accounts(), client: env.client, taskQueue, now, restartEnded: true, dryRun: true });
      expect(only(dry.entries)).toEqual([expect.objectContaining({ action: 'would-start', previous: 'TERMINATED' })]);
      const asked = await backfillBillCycles({ accounts: accounts(), client: env.client, taskQueue, now, restartEnded: true });
      expect(only(asked.entries)).toEqual([expect.objectContaining({ action: 'started', previous: 'TERMINATED' })]);
      expect(await status(T)).toBe('RUNNING');
    });
  });

  it('an account closed between the listing and the start: its cycle is started and told, closing the final period at closedAt', async () => {
    const taskQueue = uniqueId('tq');
    const systems = fakeSystems();
    const X = await openAccount('POSTPAID');
    let closedAt = '';
    // The listing sees X open; it closes before the backfill starts its cycle (the bridge found no cycle to tell).
    const real = accounts();
    const racing: PostpaidAccountsPort = {
      async openPostpaidAccounts(req) {
        const page = await real.openPostpaidAccounts(req);
        page.accounts = page.accounts.filter((a) => a.id === X);
        if (page.accounts.length > 0 && !closedAt) closedAt = await closeAccount(X);
        return page;
      },
      account: (id) => real.account(id),
    };
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
    await worker.runUntil(async () => {
      const now = new Date(await env.currentTimeMs());
      const out = await backfillBillCycles({ accounts: racing, client: env.client, taskQueue, now });
      expect(out.entries).toEqual([expect.objectContaining({ billingAccountId: X, action: 'started-and-closed', closedAt: new Date(closedAt).toISOString() })]);
      const result: BillCycleResult = await env.client.workflow.getHandle(billCycleWorkflowId(X)).result();
      const start = periodContaining(now, 1, TZ).periodStart;
      expect(result).toEqual({ billingAccountId: X, closedAt: new Date(closedAt).toISOString(), lastPeriod: { periodStart: start, periodEnd: new Date(closedAt).toISOString() } });
      expect(systems.billingPeriods.closed.filter((c) => c.billingAccountId === X).map(({ periodEnd, final }) => ({ periodEnd, final }))).toEqual([{ periodEnd: new Date(closedAt).toISOString(), final: true }]);
      // Closed now: a later backfill does not list it.
      expect((await backfillBillCycles({ accounts: real, client: env.client, taskQueue, now })).entries.some((e) => e.billingAccountId === X)).toBe(false);
    });
  });
});
