// The bill-cycle workflow against refusals of `closeBillingPeriod` that are not decisions about the
// cycle. The worker's bridge starts an account's cycle from subscribers' `billingaccount.created`;
// invoicing learns of the account from the same event through its own consumer, which may lag. When
// the first period ended before invoicing knew the account, `closeBillingPeriod` answered NOT_FOUND
// (BILLINGACCOUNT_NOT_FOUND), the worker took it as a final decision and the cycle FAILED: that
// account was never billed by its cycle again, and `billingaccount.closed` found no running cycle.
// Now such a refusal is retried (visibly, in rounds), the period is billed once the account is known,
// and a cycle whose account closed before invoicing ever knew it ends cleanly (invoicing bills the final
// period from the closed event once it knows the account). A cycle whose account invoicing has closed
// on its own (the bridge's signal lost) ends when invoicing answers that no period follows.
// Real invoicing (PostgreSQL) answering the worker's own GraphQL adapter, on the time-skipping server.
import { describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import type { Caller } from '@ledgerline/contracts';
import { startBillCycle } from '../../../workflows/src/client';
import { nextPeriodEnd, periodContaining } from '../../../workflows/src/domain/bill-cycle';
import { accountClosedAtSignal } from '../../../workflows/src/workflows/bill-cycle';
import { uniqueId } from '../../../workflows/test/support/env';
import { billClosedAccount } from '../src/application/close-account';
import { account, subscribe } from './support';
import { billCycleOnTemporal } from './bill-cycle-on-temporal-support';

const TZ = 'Europe/Berlin';
const HOUR_MS = 3_600_000;
/** Accounts whose closes are sent with an agent's token (the worker misconfigured): invoicing refuses them FORBIDDEN. */
const wrongToken = new Set<string>();
const AGENT: Caller = { role: 'AGENT', subject: 'agent-ann', scopes: [] };
const bc = billCycleOnTemporal({ callerOf: (acc) => (wrongToken.has(acc) ? AGENT : undefined) });
const { answers, invoices, ended, workerFor } = bc;


describe('bill-cycle workflow and closeBillingPeriod refusals that are no decision about the cycle', () => {
  it('bills the first period once invoicing knows the account (its created event arrived late), and the cycle goes on', async () => {
    const acc = `acc_late_${uniqueId('x').slice(2)}`;
    const p1 = periodContaining(new Date(await bc.env.currentTimeMs()), 1, TZ);
    const taskQueue = uniqueId('bill-cycle-late');
    const worker = await workerFor(taskQueue);
    await worker.runUntil(async () => {
      const handle = await startBillCycle(bc.env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      // The period ends; invoicing has not heard of the account yet.
      await bc.env.sleep(Date.parse(p1.periodEnd) - (await bc.env.currentTimeMs()) + 60_000);
      expect(answers.get(acc)?.[0]).toBe('BILLINGACCOUNT_NOT_FOUND');
      expect((await handle.describe()).status.name).toBe('RUNNING');
      // Its billingaccount.created (and the subscription) reach invoicing a while later.
      await account(bc.h, acc, { billCycleDay: 1, timezone: TZ });
      await subscribe(bc.h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
      await bc.env.sleep(2 * HOUR_MS);
      expect(answers.get(acc)?.at(-1)).toBe('closed');
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
      const d = await handle.describe();
      expect(d.status.name).toBe('RUNNING');
      expect(d.runId).not.toBe(handle.firstExecutionRunId); // continued as new with the next period
      await handle.terminate('test over');
    });
  }, 60_000);

  it('ends cleanly (not FAILED) when the account closes before invoicing ever knew it', async () => {
    const acc = `acc_never_${uniqueId('x').slice(2)}`;
    const p1 = periodContaining(new Date(await bc.env.currentTimeMs()), 1, TZ);
    const taskQueue = uniqueId('bill-cycle-never');
    const worker = await workerFor(taskQueue);
    await worker.runUntil(async () => {
      const handle = await startBillCycle(bc.env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      await bc.env.sleep(Date.parse(p1.periodEnd) - (await bc.env.currentTimeMs()) + 60_000);
      expect(answers.get(acc)?.[0]).toBe('BILLINGACCOUNT_NOT_FOUND');
      expect((await handle.describe()).status.name).toBe('RUNNING');
      const closedAt = new Date((await bc.env.currentTimeMs()) - 1_000).toISOString();
      await handle.signal(accountClosedAtSignal, { closedAt });
      await bc.env.sleep(2 * HOUR_MS);
      const { status, result } = await ended(handle);
      expect(status).toBe('COMPLETED');
      // Signalled while closing its period: closed at the signal's closedAt (patch bill-cycle-closed-at-while-closing), p1 left to invoicing.
      expect(result).toEqual({ billingAccountId: acc, closedAt, lastPeriod: { periodStart: p1.periodStart, periodEnd: p1.periodEnd }, ended: 'ACCOUNT_UNKNOWN' });
      expect(answers.get(acc)?.every((a) => a === 'BILLINGACCOUNT_NOT_FOUND')).toBe(true);
    });
  }, 60_000);

  it('ends when invoicing answers that the account was closed (it billed the final period itself; the bridge\'s signal never came)', async () => {
    const acc = `acc_closedhere_${uniqueId('x').slice(2)}`;
    const p1 = periodContaining(new Date(await bc.env.currentTimeMs()), 1, TZ);
    const p2End = nextPeriodEnd(p1.periodEnd, 1, TZ);
    bc.h.clock.set(new Date(p1.periodStart));
    await account(bc.h, acc, { billCycleDay: 1, timezone: TZ });
    await subscribe(bc.h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
    const taskQueue = uniqueId('bill-cycle-closedhere');
    const worker = await workerFor(taskQueue);
    await worker.runUntil(async () => {
      const handle = await startBillCycle(bc.env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      await bc.env.sleep(Date.parse(p1.periodEnd) - (await bc.env.currentTimeMs()) + 60_000);
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
      // Invoicing consumes billingaccount.closed and bills the final period; the worker's bridge never signals.
      const closedAt = new Date((await bc.env.currentTimeMs()) + HOUR_MS);
      bc.h.clock.set(new Date(closedAt.getTime() + 60_000));
      await bc.h.svc.runtime.orm.em.fork().transactional((e) => billClosedAccount(e as unknown as Em, { billingAccountId: acc, closedAt, now: bc.h.clock.now() }, { catalog: null }));
      await bc.env.sleep(Date.parse(p2End) - (await bc.env.currentTimeMs()) + 60_000);
      const { status, result } = await ended(handle);
      expect(status).toBe('COMPLETED');
      // Reported closed when invoicing closed it (closeBillingPeriod's accountClosedAt), not at the end of p2.
      expect(result).toMatchObject({ billingAccountId: acc, closedAt: closedAt.toISOString(), lastPeriod: { periodStart: p1.periodEnd, periodEnd: p2End }, ended: 'INVOICING_CLOSED' });
      // The final invoice is invoicing's; the cycle's close of p2 billed nothing after the account closed.
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd], [p1.periodEnd, closedAt.toISOString()]]);
    });
  }, 60_000);

  it('keeps the cycle alive while invoicing refuses the worker (FORBIDDEN: a token that is not ADMIN/SYSTEM) and closes the period once that is fixed', async () => {
    const acc = `acc_token_${uniqueId('x').slice(2)}`;
    const p1 = periodContaining(new Date(await bc.env.currentTimeMs()), 1, TZ);
    bc.h.clock.set(new Date(p1.periodStart));
    await account(bc.h, acc, { billCycleDay: 1, timezone: TZ });
    await subscribe(bc.h, acc, `sub_${acc}`, 'postpaid20', p1.periodStart);
    wrongToken.add(acc);
    const taskQueue = uniqueId('bill-cycle-token');
    const worker = await workerFor(taskQueue);
    await worker.runUntil(async () => {
      const handle = await startBillCycle(bc.env.client, { billingAccountId: acc, billCycleDay: 1, timezone: TZ, startFrom: p1.periodStart }, { taskQueue });
      await bc.env.sleep(Date.parse(p1.periodEnd) - (await bc.env.currentTimeMs()) + 10 * 60_000);
      expect(answers.get(acc)?.[0]).toBe('FORBIDDEN');
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect(await invoices(acc)).toEqual([]);
      wrongToken.delete(acc); // the operator fixes LEDGERLINE_SERVICE_TOKEN
      await bc.env.sleep(2 * HOUR_MS);
      expect(answers.get(acc)?.at(-1)).toBe('closed');
      expect(await invoices(acc)).toEqual([[p1.periodStart, p1.periodEnd]]);
      const d = await handle.describe();
      expect(d.status.name).toBe('RUNNING');
      expect(d.runId).not.toBe(handle.firstExecutionRunId);
      await handle.terminate('test over');
    });
  }, 60_000);
});
