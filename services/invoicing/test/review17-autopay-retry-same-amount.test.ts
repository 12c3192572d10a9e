// Review 17: autopay retried with another amount. The due-date job charged the card inside the
// invoice's transaction, key `autopay:<invoiceId>`, for what the invoice owed at that moment. When
// the transaction failed after the provider captured, and the invoice then owed less (a credit
// note), the next pass sent the same key with the new amount: a real provider refuses a reused key
// with other parameters (or charges again), so the captured money was never recorded and the
// customer was dunned although they had paid.
// Correct: the attempt's amount, token and key are fixed in a committed autopay_attempt row (STARTED)
// before the provider is asked; every pass retries exactly that charge; what the invoice no longer
// owes of it becomes account credit (as an overpayment does); no dunning while the attempt is open.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChargeCardRequest } from '../src/adapters/payment-provider';
import type { DunningStarter, StartDunningRequest } from '../src/ports/dunning';
import { account, invoicesOf, startHarness, subscribe, type Harness } from './support';

/** The dunning starts the job asked for. */
const dunned: StartDunningRequest[] = [];
const dunning: DunningStarter = { start: async (r) => void dunned.push(r), poke: async () => undefined };

let h: Harness;
const JOB = 'mutation { runDueDateJob { autopaid declined dunningStarted } }';
const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } dueDate } } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }';
const credit = async (acc: string) => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount;
const db = () => h.svc.runtime.orm.em.fork().getConnection();

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, dunning, policy: { reminderDays: [1], lateFee: null, suspendAfterDays: 3 } });
  // Like a real acquirer: the same key with other parameters is refused, not answered with the first charge.
  const charge = h.payments.charge.bind(h.payments);
  h.payments.charge = async (req: ChargeCardRequest) => {
    const seen = h.payments.charges.get(req.idempotencyKey);
    if (seen && (seen.req.amount !== req.amount || seen.req.currency !== req.currency || seen.req.paymentMethodToken !== req.paymentMethodToken)) {
      throw new Error(`idempotency key ${req.idempotencyKey} reused with other parameters (${seen.req.amount} then ${req.amount})`);
    }
    const r = await charge(req);
    if (failAfterCapture) {
      failAfterCapture = false;
      // Captured at the provider, then our side fails before it commits (connection lost).
      throw new Error('connection terminated after the capture');
    }
    return r;
  };
  for (const acc of ['acc_r17_ap', 'acc_r17_ap_paid']) {
    await account(h, acc, { paymentTermsDays: 3, autopayToken: `tok_visa_${acc}` });
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  }
});
afterAll(async () => h?.svc.close());
let failAfterCapture = false;

describe('review17: autopay after a capture whose commit failed', () => {
  it('retries the same charge once the invoice owes less, records it once, keeps the surplus as credit, and never dunns', async () => {
    const inv = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_r17_ap', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    expect(inv.total.amount).toBe('35.69');
    h.clock.set(new Date('2026-10-04T09:00:00Z'));

    failAfterCapture = true;
    const first = (await h.gql<any>(JOB)).runDueDateJob;
    expect(first.autopaid).toBe(0);
    expect(dunned, 'no dunning while the autopay attempt is open').toEqual([]);
    expect([...h.payments.charges.values()].map((c) => c.req.amount)).toEqual(['35.69']);

    // The invoice changes before the next pass: a 10.00 credit note.
    const [line] = (await invoicesOf(h, 'acc_r17_ap'))[0].lines;
    await h.gql(ISSUE, { i: { invoiceId: inv.id, kind: 'CREDIT', reason: 'Goodwill', lines: [{ invoiceLineId: line.id, amount: '10.00' }], idempotencyKey: 'r17-ap-cn' } });

    const second = (await h.gql<any>(JOB)).runDueDateJob;
    expect(second).toMatchObject({ autopaid: 1, declined: 0 });
    const third = (await h.gql<any>(JOB)).runDueDateJob;
    expect(third).toEqual({ autopaid: 0, declined: 0, dunningStarted: 0 });

    expect(h.payments.charges.size, 'one capture at the provider').toBe(1);
    const payments = (await db().execute(`select amount::text as amount, applied_amount::text as applied, credit_amount::text as credit, idempotency_key from payment where billing_account_id = 'acc_r17_ap' and channel = 'CARD'`)) as any[];
    expect(payments.map((p) => ({ amount: Number(p.amount), applied: Number(p.applied), credit: Number(p.credit), key: p.idempotency_key }))).toEqual([{ amount: 35.69, applied: 25.69, credit: 10, key: `autopay:${inv.id}` }]);
    const [after] = await invoicesOf(h, 'acc_r17_ap');
    expect(after).toMatchObject({ state: 'SETTLED', amountDue: { amount: '0' } });
    expect(Number(await credit('acc_r17_ap'))).toBe(10);
    expect(dunned, 'the customer paid: never dunned').toEqual([]);
    const [attempt] = (await db().execute(`select state, amount::text as amount, payment_id from autopay_attempt where invoice_id = ?`, [inv.id])) as any[];
    expect({ state: attempt.state, amount: Number(attempt.amount), paid: attempt.payment_id != null }).toEqual({ state: 'SUCCEEDED', amount: 35.69, paid: true });
  });

  it('an invoice the customer paid otherwise meanwhile: the capture is still recorded, all of it as credit', async () => {
    const inv = (await h.gql<any>(CLOSE, { i: { billingAccountId: 'acc_r17_ap_paid', periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
    h.clock.set(new Date('2026-10-08T09:00:00Z')); // due three days after closing
    const before = h.payments.charges.size;
    failAfterCapture = true;
    await h.gql(JOB);
    expect(h.payments.charges.size).toBe(before + 1);
    await h.gql('mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } } }', { i: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount: inv.total.amount, currency: 'EUR' }, idempotencyKey: 'r17-ap-paid-bank' } });
    expect((await h.gql<any>(JOB)).runDueDateJob).toMatchObject({ autopaid: 1 });
    expect(h.payments.charges.size, 'no second capture').toBe(before + 1);
    const card = (await db().execute(`select amount::text as amount, applied_amount::text as applied, credit_amount::text as credit from payment where billing_account_id = 'acc_r17_ap_paid' and channel = 'CARD'`)) as any[];
    expect(card.map((p) => [Number(p.amount), Number(p.applied), Number(p.credit)])).toEqual([[35.69, 0, 35.69]]);
    expect(Number(await credit('acc_r17_ap_paid'))).toBe(35.69);
    const [after] = await invoicesOf(h, 'acc_r17_ap_paid');
    expect(after).toMatchObject({ state: 'SETTLED', amountDue: { amount: '0' } });
    expect(dunned.map((d) => d.invoiceId)).not.toContain(inv.id);
  });
});
