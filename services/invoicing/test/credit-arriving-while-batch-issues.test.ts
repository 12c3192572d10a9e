// Account credit arriving while a bill run's batch issues the account's invoice. The batch's
// issueInvoices read which accounts have credit (a plain read, no lock) and took the credit lock only
// for those: an overpayment that had written its credit (under the credit lock) and run its own credit
// run but not yet committed was not seen, and that credit run had not seen the batch's invoice (not
// committed either). Both committed: the new invoice open (SENT, dunned when due) next to credit that
// should have paid it, until something else happened to apply it. Now issuing takes each issued
// account's credit lock (lock 2 of lock-order.ts, after the account's row the batch holds) before it
// reads the credit: the batch waits for the payment, then sees its credit and pays the invoice with it.
// Real PostgreSQL; the payment is the use case itself, its transaction held open before it commits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { recordPayment } from '../src/application/payments';
import { account, invoicesOf, startHarness, type Harness } from './support';

let h: Harness;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } } } } }';
const credit = async (acc: string) => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount as string;

/** `recordPayment` run in a transaction that is held open, its work done, until `commit()`. */
function paymentHeld(invoiceId: string, amount: string, now: Date) {
  let commit!: () => void;
  const committing = new Promise<void>((r) => (commit = r));
  let recorded!: () => void;
  const isRecorded = new Promise<void>((r) => (recorded = r));
  const done = h.svc.runtime.orm.em.fork().transactional(async (em) => {
    const id = await recordPayment(em as Em, { invoiceId, channel: 'BANK_TRANSFER', amount: { amount, currency: 'EUR' }, idempotencyKey: `race:${invoiceId}`, allowOverpayment: true, now }, h.payments);
    recorded();
    await committing;
    return id;
  });
  return { isRecorded, commit, done };
}

beforeAll(async () => {
  h = await startHarness('2026-09-01T09:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe("an overpayment committing while a bill run's batch issues the account's invoice", () => {
  it("the credit pays the invoice the batch issued (the batch waits for the payment's credit)", async () => {
    const acc = 'acc_credit_race';
    await account(h, acc, { billCycleDay: 1 });
    await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
      i: { subscriptionId: `sub_${acc}`, lineId: `lin_${acc}`, billingAccountId: acc, planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid20_v1', startsAt: '2026-07-01T00:00:00Z' },
    });
    // August closed and issued: 35.69, open.
    const aug = (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    expect([aug.state, aug.total.amount]).toEqual(['SENT', '35.69']);

    // The September bill run, its one batch: planned now, processed below.
    const now = new Date('2026-10-01T09:00:00Z');
    h.clock.set(now);
    const orm = h.svc.runtime.orm;
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-10-01', batchSize: 100, now }));
    expect(run.totalBatches).toBe(1);

    // August paid with 100.00 over: the payment's credit written and its credit run done (nothing else
    // open yet), the transaction not yet committed when the batch issues September.
    const payment = paymentHeld(aug.id, '135.69', now);
    await payment.isRecorded;
    const batch = orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, 0, { catalog: null }, now));
    const first = await Promise.race([batch.then(() => 'batch done', () => 'batch failed'), sleep(1000).then(() => 'batch waiting')]);
    payment.commit();
    await Promise.all([payment.done, batch]);

    // 100.00 of credit pays September's 35.69: 64.31 left. Before: September SENT owing 35.69, 100.00 credit left.
    const invoices = await invoicesOf(h, acc);
    expect(invoices.map((i: any) => [i.periodStart, i.state, i.total.amount, i.amountPaid.amount]).sort()).toEqual([
      ['2026-07-31T22:00:00.000Z', 'SETTLED', '35.69', '35.69'],
      ['2026-08-31T22:00:00.000Z', 'SETTLED', '35.69', '35.69'],
    ]);
    expect(dec(await credit(acc)).toFixed(2)).toBe('64.31');
    // Before: 'batch done' (it never took the credit lock of an account it saw without credit).
    expect(first).toBe('batch waiting');
  });
});
