// Review 9: a refund that reopens an invoice while its previous dunning is still RUNNING but has
// already seen the payment (it is in `finish`, lifting its collections hold — an activity that may be
// retried for a long time while a line has another order open) is never dunned again.
// TemporalDunningStarter.start(run 2) describes run 1 as RUNNING, signals it and answers 1; the
// due-date job marks the invoice dunned (`dunning_started_at`), but run 1 had already decided "paid"
// and completes. The invoice owes again, nothing dunns it, and no later pass starts one.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LineControlRequest } from '../../../workflows/src/activities/invoicing';
import { CLOSE, DUE, PAY, REFUND, startDunningOnTemporal, until, type DunningOnTemporal } from './dunning-on-temporal';
import { account, subscribe, type Harness } from './support';

const policy = { reminderDays: [1], lateFee: null, suspendAfterDays: 3 };
let releaseRestore: () => void = () => undefined;
const restoreGate = new Promise<void>((r) => (releaseRestore = r));

let t: DunningOnTemporal;
let env: TestWorkflowEnvironment;
let h: Harness;
let suspensions: LineControlRequest[];
let restorations: LineControlRequest[];
const status = (workflowId: string) => t.status(workflowId);

beforeAll(async () => {
  t = await startDunningOnTemporal({ name: 'review9-redun', at: '2026-09-01T09:00:00Z', policy,
    // The first run's lift takes a while (in production: retried while a line has another order open).
    restoreAccountLines: async () => {
      await restoreGate;
      return { lines: 1 };
    }, });
  ({ env, h, suspensions, restorations } = t);
});
afterAll(async () => {
  releaseRestore();
  await t?.stop();
});

describe('review9: a refund reopens an invoice while its dunning is finishing on the payment', () => {
  it('the invoice owing again is still dunned (by the old run or a new one)', async () => {
    await account(h, 'acc_r9_fin');
    await subscribe(h, 'acc_r9_fin', 'sub_r9_fin', 'postpaid20', '2026-07-01T00:00:00Z');
    const aug = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_r9_fin', periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    const first = `dunning-${aug.id}`;
    const second = `dunning-${aug.id}-2`;

    h.clock.set(new Date('2026-09-20T09:00:00Z'));
    expect((await h.gql<any>(DUE)).runDueDateJob.dunningStarted).toBe(1);
    await env.sleep('4 days');
    await until(async () => suspensions.some((s) => s.holdId === first), 'the first dunning to hold the lines');

    // Paid in full: the first run sees it and starts lifting its hold (still RUNNING meanwhile).
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: aug.id, channel: 'BANK_TRANSFER', amount: { amount: aug.total.amount, currency: 'EUR' }, idempotencyKey: 'r9-fin-pay' } })).recordPayment;
    expect(pay.invoice.state).toBe('SETTLED');
    await until(async () => restorations.some((r) => r.holdId === first), 'the first dunning to lift its hold');
    expect(await status(first)).toBe('RUNNING');

    // The bank recalls 20.00: the invoice owes again; the due-date job re-arms it.
    h.clock.set(new Date('2026-10-05T09:00:00Z'));
    await h.gql(REFUND, { i: { paymentId: pay.payment.id, amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'r9-fin-refund' } });
    await h.gql<any>(DUE);

    // The first run finishes what it had decided: the invoice was paid.
    releaseRestore();
    await until(async () => (await status(first)) === 'COMPLETED', 'the first dunning to complete');

    const { invoice } = await h.gql<any>('query($id: ID!) { invoice(id: $id) { amountDue { amount } } }', { id: aug.id });
    expect(invoice.amountDue.amount).toBe('20');
    // Later passes of the due-date job: something must dun the 20.00 still owed.
    h.clock.set(new Date('2026-10-06T09:00:00Z'));
    await h.gql<any>(DUE);
    h.clock.set(new Date('2026-10-07T09:00:00Z'));
    await h.gql<any>(DUE);
    expect(await status(second), 'the invoice owes 20.00 and no dunning is running for it').toBe('RUNNING');
  });
});
