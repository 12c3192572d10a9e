// An invoice a refund reopened after its dunning had completed was never dunned again: the due-date
// job starts a dunning only for invoices without `dunning_started_at`, and the workflow id
// `dunning-<invoiceId>` was started with REJECT_DUPLICATE. Now a refund that makes a paid invoice
// owe again re-arms it, and the next pass starts a new dunning once the previous run is closed, under
// a new id (`dunning-<invoiceId>-2`): the dunning's idempotency keys (reminders, late fee, the
// collections hold `<workflowId>:suspend`) derive from its workflow id, so a second run under the
// same id would replay the first one's lifted hold and never bar the lines. The holder is still the
// workflow id (the worker's sweep maps one to the other), and payments signal the current run.
// Real PostgreSQL, and real Temporal (time-skipping test server) running the dunning workflow through
// the workflows package's test support; reminders and line holds are recorded.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LineControlRequest } from '../../../workflows/src/activities/invoicing';
import { CLOSE, DUE, PAY, REFUND, startDunningOnTemporal, until, type DunningOnTemporal } from './dunning-on-temporal';
import { account, subscribe, type Harness } from './support';

const policy = { reminderDays: [1], lateFee: null, suspendAfterDays: 3 };

let t: DunningOnTemporal;
let env: TestWorkflowEnvironment;
let h: Harness;
let suspensions: LineControlRequest[];
let restorations: LineControlRequest[];
let reminders: string[];
const status = (workflowId: string) => t.status(workflowId);

beforeAll(async () => {
  t = await startDunningOnTemporal({ name: 'dunning-again', at: '2026-09-01T09:00:00Z', policy });
  ({ env, h, suspensions, restorations, reminders } = t);
});
afterAll(async () => {
  await t?.stop();
});

describe('an invoice a refund reopens after its dunning completed', () => {
  it('is dunned again by the due-date job, under a new run the sweep and the signals can find', async () => {
    await account(h, 'acc_dun_again');
    await subscribe(h, 'acc_dun_again', 'sub_dun_again', 'postpaid20', '2026-07-01T00:00:00Z');
    const aug = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_dun_again', periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    const first = `dunning-${aug.id}`;

    // Overdue: the due-date job starts its dunning on Temporal.
    h.clock.set(new Date('2026-09-20T09:00:00Z'));
    expect((await h.gql<any>(DUE)).runDueDateJob.dunningStarted).toBe(1);
    expect(await status(first)).toBe('RUNNING');

    // Paid in full: the payment signals the dunning, which completes.
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: aug.id, channel: 'BANK_TRANSFER', amount: { amount: aug.total.amount, currency: 'EUR' }, idempotencyKey: 'dun-again-pay' } })).recordPayment;
    expect(pay.invoice.state).toBe('SETTLED');
    await until(async () => (await status(first)) === 'COMPLETED', 'the first dunning to complete');

    // The bank recalls 20.00 of it: the invoice owes again, long past its due date.
    h.clock.set(new Date('2026-10-05T09:00:00Z'));
    await h.gql(REFUND, { i: { paymentId: pay.payment.id, amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'dun-again-refund' } });
    expect((await h.gql<any>(DUE)).runDueDateJob.dunningStarted, 'the reopened invoice must be dunned again').toBe(1);
    const second = `dunning-${aug.id}-2`;
    expect(await status(second)).toBe('RUNNING');
    // Started once: another pass leaves it alone.
    expect((await h.gql<any>(DUE)).runDueDateJob.dunningStarted).toBe(0);

    // It chases the customer: a reminder, then the lines are held for this run (holder = its id).
    await env.sleep('4 days');
    await until(async () => suspensions.some((s) => s.holdId === second), 'the second dunning to hold the lines');
    expect(reminders).toContain(`${second}:reminder-1`);
    expect(suspensions.map((s) => [s.holdId, s.idempotencyKey])).toContainEqual([second, `${second}:suspend`]);

    // Paid again: the payment signals the current run, which lifts its own hold and completes.
    await h.gql(PAY, { i: { invoiceId: aug.id, channel: 'BANK_TRANSFER', amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'dun-again-pay-2' } });
    await until(async () => (await status(second)) === 'COMPLETED', 'the second dunning to complete');
    expect(restorations.map((r) => r.holdId)).toContain(second);
    expect(await status(first)).toBe('COMPLETED');
  });

  it('re-armed while its previous dunning still runs, that one is told to look again: no second run beside it, and the invoice stays armed for a later pass', async () => {
    await account(h, 'acc_dun_still');
    await subscribe(h, 'acc_dun_still', 'sub_dun_still', 'postpaid20', '2026-07-01T00:00:00Z');
    h.clock.set(new Date('2026-09-01T09:00:00Z'));
    const aug = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_dun_still', periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    h.clock.set(new Date('2026-09-20T09:00:00Z'));
    expect((await h.gql<any>(DUE)).runDueDateJob.dunningStarted).toBe(1);
    // As if a refund re-armed it before the running dunning saw the payment.
    await h.svc.runtime.orm.em.fork().getConnection().execute(`update invoice set dunning_started_at = null where id = '${aug.id}'`);
    expect((await h.gql<any>(DUE)).runDueDateJob.dunningStarted).toBe(0);
    expect(await status(`dunning-${aug.id}`)).toBe('RUNNING');
    expect(await status(`dunning-${aug.id}-2`)).toBe('NOT_FOUND');
    // Not marked: had the running one already decided the invoice was paid, it would end and leave
    // the invoice owing and undunned (review 9). The next pass after it closes starts run 2.
    const [row] = await h.svc.runtime.orm.em.fork().getConnection().execute(`select dunning_runs, dunning_started_at from invoice where id = '${aug.id}'`);
    expect(row.dunning_runs).toBe(1);
    expect(row.dunning_started_at).toBeNull();
  });
});
