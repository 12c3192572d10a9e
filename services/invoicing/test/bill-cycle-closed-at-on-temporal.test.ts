// The bill cycle's closing instant when the cycle learns of the closure late. (1) Invoicing closed the account
// itself (its consumer of billingaccount.closed, the bridge's signal never came) and the cycle learnt it from a
// close answered `nextPeriodEnd: null`: its result reported `closedAt` = the end of the period it had just closed,
// not invoicing's `closed_at`; closeBillingPeriod now answers `accountClosedAt` and the cycle reports it.
// (2) An `accountClosed` signal with `closedAt` reaching a run already in its close retry rounds (invoicing
// refused the close, here BILLINGACCOUNT_NOT_FOUND: the created event late) was taken at the signal's time: the
// catch-up billed a final stub up to the signal and invoicing's `closed_at` ended that much after the real
// closure. Now `closedAt` is used when it lies between the period's start and now (patch
// bill-cycle-closed-at-while-closing, workflows/bill-cycle.ts).
// Real invoicing (PostgreSQL) answering the worker's own GraphQL adapter, on the time-skipping server.
import { describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { startBillCycle } from '../../../workflows/src/client';
import { nextPeriodEnd, periodContaining } from '../../../workflows/src/domain/bill-cycle';
import { accountClosedAtSignal } from '../../../workflows/src/workflows/bill-cycle';
import { uniqueId } from '../../../workflows/test/support/env';
import { billClosedAccount } from '../src/application/close-account';
import { rows } from '../src/application/sql';
import { account, subscribe } from './support';
import { billCycleOnTemporal } from './bill-cycle-on-temporal-support';

const TZ = 'Europe/Berlin';
const HOUR_MS = 3_600_000;
const bc = billCycleOnTemporal();
const { answers, invoices, ended, workerFor, em } = bc;

async function closedAtInInvoicing(acc: string): Promise<string | null> {
  const [a] = await rows<{ closed_at: Date | null }>(em(), 'select closed_at from billing_account where id = ?', [acc]);
  return a?.closed_at ? new Date(a.closed_at).toISOString() : null;
}


describe('bill cycle: the closing instant it reports and bills when it learns of the closure late', () => {
  it('reports invoicing\'s closed_at when invoicing closed the account itself (nextPeriodEnd null), not the end of the period it closed', async () => {
    const acc = `acc_invclosed_${uniqueId('x').slice(2)}`;
    const p1 = periodContaining(new Date(await bc.env.currentTimeMs()), 1, TZ);
    const p2End = nextPeriodEnd(p1.periodEnd, 1, TZ);
    bc.h.clock.set(new Date(p1.periodStart));
    await account(bc.h, acc, { billCycleDay: 1, timezone: TZ });
    await subscribe(bc.h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
    const taskQueue = uniqueId('bill-cycle-invclosed');
    const worker = await workerFor(taskQueue);
    await worker.runUntil(async () => {
      const handle = await startBillCycle(bc.env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      await bc.env.sleep(Date.parse(p1.periodEnd) - (await bc.env.currentTimeMs()) + 60_000);
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
      // Invoicing consumes billingaccount.closed and bills the final period; the worker's bridge never signals.
      const closedAt = new Date((await bc.env.currentTimeMs()) + HOUR_MS);
      bc.h.clock.set(new Date(closedAt.getTime() + 60_000));
      await em().transactional((e) => billClosedAccount(e as unknown as Em, { billingAccountId: acc, closedAt, now: bc.h.clock.now() }, { catalog: null }));
      await bc.env.sleep(Date.parse(p2End) - (await bc.env.currentTimeMs()) + 60_000);
      const { status, result } = await ended(handle);
      expect(status).toBe('COMPLETED');
      expect(result).toEqual({ billingAccountId: acc, closedAt: closedAt.toISOString(), lastPeriod: { periodStart: p1.periodEnd, periodEnd: p2End }, ended: 'INVOICING_CLOSED' });
      expect(await closedAtInInvoicing(acc)).toBe(closedAt.toISOString());
    });
  }, 60_000);

  it('closeBillingPeriod answers the account\'s closed instant (null while it is open)', async () => {
    const acc = `acc_answer_${uniqueId('x').slice(2)}`;
    const p1 = periodContaining(new Date(await bc.env.currentTimeMs()), 1, TZ);
    bc.h.clock.set(new Date(Date.parse(p1.periodEnd) + HOUR_MS));
    await account(bc.h, acc, { billCycleDay: 1, timezone: TZ });
    await subscribe(bc.h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
    const close = (periodEnd: string, final: boolean) =>
      bc.h.svc.request<{ closeBillingPeriod: { accountClosedAt: string | null; billingPeriod: { nextPeriodEnd: string | null } } }>(
        `mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { accountClosedAt billingPeriod { nextPeriodEnd } } }`,
        { i: { billingAccountId: acc, periodStart: p1.periodStart, periodEnd, final } },
      );
    const open = await close(p1.periodEnd, false);
    expect(open.errors).toBeUndefined();
    expect(open.data?.closeBillingPeriod.accountClosedAt).toBeNull();
    const closedAt = new Date(Date.parse(p1.periodEnd) - 2 * HOUR_MS).toISOString();
    const last = await close(closedAt, true);
    expect(last.data?.closeBillingPeriod).toEqual({ accountClosedAt: closedAt, billingPeriod: { nextPeriodEnd: null } });
  }, 60_000);

  it('a signal with closedAt after the period\'s end, reaching the run in its close rounds: the final stub and closed_at end at closedAt, not at the signal', async () => {
    const acc = `acc_lateclose_${uniqueId('x').slice(2)}`;
    const p1 = periodContaining(new Date(await bc.env.currentTimeMs()), 1, TZ);
    const taskQueue = uniqueId('bill-cycle-lateclose');
    const worker = await workerFor(taskQueue);
    await worker.runUntil(async () => {
      const handle = await startBillCycle(bc.env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      // The period ends; invoicing has not heard of the account yet: the close is refused in rounds for hours.
      await bc.env.sleep(Date.parse(p1.periodEnd) - (await bc.env.currentTimeMs()) + 3 * HOUR_MS);
      expect(answers.get(acc)?.every((a) => a === 'BILLINGACCOUNT_NOT_FOUND')).toBe(true);
      // Its created event reaches invoicing; the account had closed an hour after the period ended, and the
      // bridge's signal (with that instant) comes before invoicing's consumer reads the closed event.
      await account(bc.h, acc, { billCycleDay: 1, timezone: TZ });
      await subscribe(bc.h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
      const closedAt = new Date(Date.parse(p1.periodEnd) + HOUR_MS).toISOString();
      await handle.signal(accountClosedAtSignal, { closedAt });
      await bc.env.sleep(HOUR_MS);
      const { status, result } = await ended(handle);
      expect(status).toBe('COMPLETED');
      expect(result).toEqual({ billingAccountId: acc, closedAt, lastPeriod: { periodStart: p1.periodEnd, periodEnd: closedAt } });
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd], [p1.periodEnd, closedAt]]);
      expect(await closedAtInInvoicing(acc)).toBe(closedAt);
    });
  }, 60_000);

  it('a signal with closedAt inside the period being closed, reaching the run in its close rounds: the period is closed again as final at closedAt (as invoicing\'s consumer would), nothing billed after it', async () => {
    const acc = `acc_inclose_${uniqueId('x').slice(2)}`;
    const p1 = periodContaining(new Date(await bc.env.currentTimeMs()), 1, TZ);
    const taskQueue = uniqueId('bill-cycle-inclose');
    const worker = await workerFor(taskQueue);
    await worker.runUntil(async () => {
      const handle = await startBillCycle(bc.env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      await bc.env.sleep(Date.parse(p1.periodEnd) - (await bc.env.currentTimeMs()) + 3 * HOUR_MS);
      expect(answers.get(acc)?.every((a) => a === 'BILLINGACCOUNT_NOT_FOUND')).toBe(true);
      await account(bc.h, acc, { billCycleDay: 1, timezone: TZ });
      await subscribe(bc.h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
      const closedAt = new Date(Date.parse(p1.periodEnd) - 2 * HOUR_MS).toISOString();
      await handle.signal(accountClosedAtSignal, { closedAt });
      await bc.env.sleep(HOUR_MS);
      const { status, result } = await ended(handle);
      expect(status).toBe('COMPLETED');
      expect(result).toEqual({ billingAccountId: acc, closedAt, lastPeriod: { periodStart: p1.periodStart, periodEnd: closedAt } });
      // The close asked for before the signal billed the whole period; nothing after it is billed.
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
      expect(await closedAtInInvoicing(acc)).toBe(closedAt);
    });
  }, 60_000);
});
