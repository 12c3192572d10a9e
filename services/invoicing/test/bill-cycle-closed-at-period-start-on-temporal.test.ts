// The bill-cycle workflow when the account closed at (or just before) the start of the run's period:
// the account closed at the instant the previous period ended, which the previous run has already
// closed and billed up to its end. The final period is then empty ([start, start)): nothing is left to
// bill. Invoicing refused such a close (BILLING_PERIOD_INVALID, a BUG refusal) and the cycle retried it,
// logging errors, for ever; a `closedAt` at or before the period's start was taken as the signal's time,
// so a final stub [start, signal) was billed after the account had closed. Now a `closedAt` at or before
// the period's start closes it at the start, invoicing takes the empty final close (the account CLOSED,
// nothing billed, the same answer again) and the cycle ends COMPLETED with that empty last period.
// Real invoicing (PostgreSQL) answering the worker's own GraphQL adapter, on the time-skipping server.
import { describe, expect, it } from 'vitest';
import { type WorkflowHandle } from '@temporalio/client';
import type { Em } from '@ledgerline/platform';
import { startBillCycle } from '../../../workflows/src/client';
import { periodContaining } from '../../../workflows/src/domain/bill-cycle';
import { accountClosedAtSignal } from '../../../workflows/src/workflows/bill-cycle';
import { uniqueId } from '../../../workflows/test/support/env';
import { billClosedAccount } from '../src/application/close-account';
import { rows } from '../src/application/sql';
import { account, subscribe } from './support';
import { billCycleOnTemporal } from './bill-cycle-on-temporal-support';

const TZ = 'Europe/Berlin';
const HOUR_MS = 3_600_000;
const bc = billCycleOnTemporal();
const { answers, invoices, ended, em, workerFor, billingPeriods } = bc;

async function accountState(acc: string): Promise<{ status: string; closedAt: string | null }> {
  const [a] = await rows<{ status: string; closed_at: Date | null }>(em(), 'select status, closed_at from billing_account where id = ?', [acc]);
  return { status: a!.status, closedAt: a!.closed_at ? new Date(a!.closed_at).toISOString() : null };
}

/** An account billed by its cycle through its first period; the cycle has continued as new with the second. */
async function cycleAfterFirstPeriod(acc: string, taskQueue: string, body: (handle: WorkflowHandle, p1: { periodStart: string; periodEnd: string }) => Promise<void>): Promise<void> {
  const p1 = periodContaining(new Date(await bc.env.currentTimeMs()), 1, TZ);
  bc.h.clock.set(new Date(p1.periodStart));
  await account(bc.h, acc, { billCycleDay: 1, timezone: TZ });
  await subscribe(bc.h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
  const worker = await workerFor(taskQueue);
  await worker.runUntil(async () => {
    const handle = await startBillCycle(bc.env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
    await bc.env.sleep(Date.parse(p1.periodEnd) - (await bc.env.currentTimeMs()) + 10 * 60_000);
    expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
    const d = await handle.describe();
    expect(d.status.name).toBe('RUNNING');
    expect(d.runId).not.toBe(handle.firstExecutionRunId); // the second period's run
    await body(handle, p1);
  });
}

describe('bill cycle: the account closed at the start of the run\'s period (an empty final period)', () => {
  it('ends COMPLETED with an empty last period when the account closed at the instant the previous period ended; nothing billed after it', async () => {
    const acc = `acc_atstart_${uniqueId('x').slice(2)}`;
    await cycleAfterFirstPeriod(acc, uniqueId('bill-cycle-atstart'), async (handle, p1) => {
      await handle.signal(accountClosedAtSignal, { closedAt: p1.periodEnd });
      await bc.env.sleep(2 * HOUR_MS);
      const { status, result } = await ended(handle);
      expect(status).toBe('COMPLETED');
      expect(result).toEqual({ billingAccountId: acc, closedAt: p1.periodEnd, lastPeriod: { periodStart: p1.periodEnd, periodEnd: p1.periodEnd } });
      expect(answers.get(acc)).not.toContain('BILLING_PERIOD_INVALID');
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
      expect(await accountState(acc)).toEqual({ status: 'CLOSED', closedAt: p1.periodEnd });
      // invoicing's own consumer of billingaccount.closed afterwards: closed already, nothing more.
      const out = await em().transactional((e) => billClosedAccount(e as unknown as Em, { billingAccountId: acc, closedAt: new Date(p1.periodEnd), now: bc.h.clock.now() }, { catalog: null }));
      expect(out.periods).toEqual([]);
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
    });
  }, 60_000);

  it('closed a millisecond before the period started (invoicing closed it first): nothing billed twice or after it, the cycle ends', async () => {
    const acc = `acc_msbefore_${uniqueId('x').slice(2)}`;
    await cycleAfterFirstPeriod(acc, uniqueId('bill-cycle-msbefore'), async (handle, p1) => {
      const closedAt = new Date(Date.parse(p1.periodEnd) - 1);
      const first = await em().transactional((e) => billClosedAccount(e as unknown as Em, { billingAccountId: acc, closedAt, now: bc.h.clock.now() }, { catalog: null }));
      expect(first.periods.map((p) => p.final)).toEqual([true]); // the billed period closed again as final, nothing more billed
      await handle.signal(accountClosedAtSignal, { closedAt: closedAt.toISOString() });
      await bc.env.sleep(2 * HOUR_MS);
      const { status, result } = await ended(handle);
      expect(status).toBe('COMPLETED');
      expect(result).toEqual({ billingAccountId: acc, closedAt: p1.periodEnd, lastPeriod: { periodStart: p1.periodEnd, periodEnd: p1.periodEnd } });
      expect(answers.get(acc)).not.toContain('BILLING_PERIOD_INVALID');
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
      expect((await accountState(acc)).status).toBe('CLOSED');
    });
  }, 60_000);

  it('invoicing takes an empty final close (the account CLOSED at that instant, nothing billed), the same answer again; an empty period that is not final is still refused', async () => {
    const acc = `acc_emptyclose_${uniqueId('x').slice(2)}`;
    await cycleAfterFirstPeriod(acc, uniqueId('bill-cycle-emptyclose'), async (handle, p1) => {
      await handle.terminate('test drives invoicing directly');
      const empty = { billingAccountId: acc, periodStart: p1.periodEnd, periodEnd: p1.periodEnd, idempotencyKey: `bill-cycle-${acc}:closePeriod:${p1.periodEnd}` };
      await expect(billingPeriods.closePeriod(empty)).rejects.toMatchObject({ code: 'BILLING_PERIOD_INVALID' });
      const r1 = await billingPeriods.closePeriod({ ...empty, final: true });
      expect(r1.nextPeriodEnd).toBeNull();
      const r2 = await billingPeriods.closePeriod({ ...empty, final: true });
      expect(r2).toEqual(r1);
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
      expect(await accountState(acc)).toEqual({ status: 'CLOSED', closedAt: p1.periodEnd });
    });
  }, 60_000);
});
