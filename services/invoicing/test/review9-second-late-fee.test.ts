// Review 9: an invoice dunned again after a refund reopened it is charged a second late fee.
// The dunning's late fee is a one-off charge whose id is `<workflowId>:late-fee` (workflows/
// dunning.ts, addLateFee → addOneOffCharge id); the second dunning of the same invoice runs under
// `dunning-<invoiceId>-2`, so its late fee has a new id and is charged again, although the policy
// says the late fee is "charged once" per invoice (DunningPolicy.lateFee) and the customer already
// paid it for this invoice's lateness. (The second run starts from the original due date, so every
// past step fires again, the late fee included, a day after the new run's first reminder.)
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvoicingActivities, type LineControlRequest } from '../../../workflows/src/activities/invoicing';
import { createTimeSkippingEnv, uniqueId } from '../../../workflows/test/support/env';
import { TemporalDunningStarter } from '../src/adapters/temporal-dunning';
import { account, startHarness, subscribe, type Harness } from './support';

let env: TestWorkflowEnvironment;
let h: Harness;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueId('review9-latefee');
const suspensions: LineControlRequest[] = [];
const restorations: LineControlRequest[] = [];

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id total { amount } } } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } invoice { state } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';
const DUE = 'mutation { runDueDateJob { dunningStarted } }';
const policy = { reminderDays: [1], lateFee: { afterDays: 2, amount: '5.00' }, suspendAfterDays: 5 };
const lateFees: { invoiceId: string; idempotencyKey: string }[] = [];

const status = async (workflowId: string) => {
  try {
    return (await env.client.workflow.getHandle(workflowId).describe()).status.name;
  } catch {
    return 'NOT_FOUND';
  }
};
async function until(probe: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  env = await createTimeSkippingEnv();
  const dunning = new TemporalDunningStarter({ client: env.client, taskQueue });
  h = await startHarness('2026-09-01T09:00:00Z', { consume: false, runBillRuns: false, dunning, policy });
  worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../../../workflows/src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') }),
    activities: createInvoicingActivities({
      invoicing: {
        startBillRun: async () => ({ billRunId: 'x', totalBatches: 0, totalAccounts: 0 }),
        processBillRunBatch: async (r) => ({ batchNo: r.batchNo, accounts: 0, invoicesCreated: 0 }),
        billRunState: async () => ({ batchesDone: 0, accountsDone: 0, invoicesCreated: 0, accountsWaiting: 0, nextAttemptAt: null }),
        invoiceStatus: async ({ invoiceId }) => {
          const { invoice: i } = await h.gql<any>('query($id: ID!) { invoice(id: $id) { id billingAccountId state amountDue { amount currency } amountDisputed { amount } } }', { id: invoiceId });
          return { invoiceId: i.id, billingAccountId: i.billingAccountId, state: i.state, currency: i.amountDue.currency, amountDue: i.amountDue.amount, amountDisputed: i.amountDisputed.amount };
        },
        // What the real client does: addOneOffCharge with id = the key (so a key charges once).
        addLateFee: async (r) => {
          lateFees.push({ invoiceId: r.invoiceId, idempotencyKey: r.idempotencyKey });
          await h.gql('mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }', {
            i: { id: r.idempotencyKey.slice(0, 80), billingAccountId: r.billingAccountId, code: 'LATE_FEE', description: `Late payment fee (invoice ${r.invoiceId})`, amount: { amount: r.amount, currency: r.currency } },
          });
        },
      },
      reminders: { sendReminder: async () => undefined },
      lines: {
        suspendAccountLines: async (r) => (suspensions.push(r), { lines: 1 }),
        restoreAccountLines: async (r) => (restorations.push(r), { lines: 1 }),
      },
    }),
    shutdownGraceTime: '1 second',
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running?.catch(() => undefined);
  await h?.svc.close();
  await env?.teardown();
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
