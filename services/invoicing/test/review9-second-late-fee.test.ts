// Review 9: an invoice dunned again after a refund reopened it is charged a second late fee.
// The dunning's late fee is a one-off charge whose id is `<workflowId>:late-fee` (workflows/
// dunning.ts, addLateFee → addOneOffCharge id); the second dunning of the same invoice runs under
// `dunning-<invoiceId>-2`, so its late fee has a new id and is charged again, although the policy
// says the late fee is "charged once" per invoice (DunningPolicy.lateFee) and the customer already
// paid it for this invoice's lateness. (The second run starts from the original due date, so every
// past step fires again, the late fee included, a day after the new run's first reminder.)
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LineControlRequest } from '../../../workflows/src/activities/invoicing';
import { CLOSE, DUE, PAY, REFUND, startDunningOnTemporal, until, type DunningOnTemporal } from './dunning-on-temporal';
import { account, subscribe, type Harness } from './support';

const policy = { reminderDays: [1], lateFee: { afterDays: 2, amount: '5.00' }, suspendAfterDays: 5 };
const lateFees: { invoiceId: string; idempotencyKey: string }[] = [];

let t: DunningOnTemporal;
let env: TestWorkflowEnvironment;
let h: Harness;
let suspensions: LineControlRequest[];
const status = (workflowId: string) => t.status(workflowId);

beforeAll(async () => {
  t = await startDunningOnTemporal({ name: 'review9-latefee', at: '2026-09-01T09:00:00Z', policy,
    // What the real client does: addOneOffCharge with id = the key (so a key charges once).
    addLateFee: (harness) => async (r) => {
      lateFees.push({ invoiceId: r.invoiceId, idempotencyKey: r.idempotencyKey });
      await harness.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
        i: { id: r.idempotencyKey.slice(0, 80), billingAccountId: r.billingAccountId, code: 'LATE_FEE', description: `Late payment fee (invoice ${r.invoiceId})`, amount: { amount: r.amount, currency: r.currency } },
      });
    }, });
  ({ env, h, suspensions } = t);
});
afterAll(async () => {
  await t?.stop();
});

describe('review9: a late fee per invoice, not per dunning', () => {
  it('an invoice dunned again after a refund is not charged the late fee a second time', async () => {
    await account(h, 'acc_r9_fee');
    await subscribe(h, 'acc_r9_fee', 'sub_r9_fee', 'postpaid20', '2026-07-01T00:00:00Z');
    const aug = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_r9_fee', periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    const first = `dunning-${aug.id}`;
    const second = `dunning-${aug.id}-2`;

    // Overdue: the first dunning reminds, then charges the late fee.
    h.clock.set(new Date('2026-09-20T09:00:00Z'));
    expect((await h.gql<any>(DUE)).runDueDateJob.dunningStarted).toBe(1);
    await env.sleep('2 days');
    await until(async () => lateFees.length === 1, 'the first dunning to charge its late fee');

    // Paid in full: the first dunning completes.
    const pay = (await h.gql<any>(PAY, { i: { invoiceId: aug.id, channel: 'BANK_TRANSFER', amount: { amount: aug.total.amount, currency: 'EUR' }, idempotencyKey: 'r9-fee-pay' } })).recordPayment;
    await until(async () => (await status(first)) === 'COMPLETED', 'the first dunning to complete');

    // The bank recalls 20.00: dunned again under a new run.
    h.clock.set(new Date('2026-10-05T09:00:00Z'));
    await h.gql(REFUND, { i: { paymentId: pay.payment.id, amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: 'r9-fee-refund' } });
    expect((await h.gql<any>(DUE)).runDueDateJob.dunningStarted).toBe(1);
    expect(await status(second)).toBe('RUNNING');
    await env.sleep('6 days');
    await until(async () => suspensions.some((s) => s.holdId === second), 'the second dunning to reach its suspension');

    const rows = await h.svc.runtime.orm.em.fork().getConnection().execute(`select * from one_off_charge where billing_account_id = 'acc_r9_fee'`);
    const charged = rows.filter((r: any) => String(r.code ?? r.kind ?? '').includes('LATE_FEE') || String(r.description ?? '').includes('Late payment fee'));
    expect(charged.length, `late fees billed to the account: ${JSON.stringify(charged.map((r: any) => [r.id, r.amount]))}`).toBe(1);
    expect(new Set(lateFees.map((f) => f.idempotencyKey)).size, `one late fee for the invoice: ${lateFees.map((f) => f.idempotencyKey).join(', ')}`).toBe(1);
  });
});
