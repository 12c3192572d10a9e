// A refund reopens its invoice and the account's credit (here from a CREDIT note) pays it again as
// an ACCOUNT_CREDIT payment. A second refund of the same card payment then passed the invoice-level
// `invoicePaid` cap (the invoice counted as paid again): the credit-note money left as card cash and
// the payment rows no longer added up to the invoice's amount_paid. A payment is refunded at most
// what it brought in and still stands on its invoice; credit paying the invoice later is credit's,
// not the card's. A CREDIT note that takes paid money off an invoice records it on the payments it
// came from (`payment.moved_to_credit`), account credit first, so each payment's net is known.
// Real PostgreSQL (and NATS for the outbox).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, invoicesOf, startHarness, subscribe, type Harness } from './support';

let h: Harness;

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } lines { id } } } } }';
const NOTE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id creditAmount { amount } } invoice { state } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id refundedAmount { amount } } } }';

const credit = async (acc: string) => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount;
const view = async (acc: string, id: string) => {
  const inv = (await invoicesOf(h, acc)).find((i: any) => i.id === id);
  return { state: inv.state, amountPaid: inv.amountPaid.amount, amountDue: inv.amountDue.amount };
};
/** amount_paid against the sum of its payments' net amounts (what each still has on the invoice). */
async function sums(invoiceId: string): Promise<{ amountPaid: string; paymentsNet: string }> {
  const [r] = await h.svc.runtime.orm.em.fork().getConnection().execute<{ amountPaid: string; paymentsNet: string }[]>(
    `select i.amount_paid::numeric(18,2)::text as "amountPaid",
            (select coalesce(sum(p.applied_amount - p.moved_to_credit - (p.refunded_amount - coalesce((
               select sum(-e.amount) from refund r join account_credit_entry e on e.source = 'REFUND' and e.source_id = r.id where r.payment_id = p.id), 0))), 0)
               from payment p where p.invoice_id = i.id)::numeric(18,2)::text as "paymentsNet"
       from invoice i where i.id = ?`,
    [invoiceId],
  );
  return r!;
}

beforeAll(async () => {
  h = await startHarness('2026-09-01T09:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

async function paidAugust(acc: string, key: string) {
  await account(h, acc);
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-07-01T00:00:00Z');
  const aug = (await h.gql<any>(CLOSE, { i: { billingAccountId: acc, periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z' } })).closeBillingPeriod.billingPeriod.invoice;
  expect(aug.total.amount).toBe('35.69');
  const card = (await h.gql<any>(PAY, { i: { invoiceId: aug.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '35.69', currency: 'EUR' }, idempotencyKey: key } })).recordPayment;
  expect(card.invoice.state).toBe('SETTLED');
  return { aug, card: card.payment.id as string };
}

describe('refunding a card payment after account credit re-paid its invoice', () => {
  it('never pays the credit out as card cash: the second refund is refused, the sums still add up', async () => {
    const { aug, card } = await paidAugust('acc_rcr_1', 'rcr-1-card');
    // Goodwill: a 10.00 CREDIT note on paid August moves 10.00 of the card's money into account credit.
    await h.gql(NOTE, { i: { invoiceId: aug.id, kind: 'CREDIT', reason: 'Outage', lines: [{ invoiceLineId: aug.lines[0].id, amount: '10.00' }], idempotencyKey: 'rcr-1-note' } });
    expect(await credit('acc_rcr_1')).toBe('10');
    expect(await view('acc_rcr_1', aug.id)).toMatchObject({ state: 'SETTLED', amountPaid: '25.69' });

    // The card's 25.69 still on August is refunded: August reopens and the 10.00 credit pays it.
    h.clock.set(new Date('2026-09-10T10:00:00Z'));
    await h.gql(REFUND, { i: { paymentId: card, amount: { amount: '25.69', currency: 'EUR' }, idempotencyKey: 'rcr-1-refund-1' } });
    expect({ aug: await view('acc_rcr_1', aug.id), credit: await credit('acc_rcr_1') }).toEqual({ aug: { state: 'PARTIALLY_PAID', amountPaid: '10', amountDue: '15.69' }, credit: '0' });

    // Nothing of the card payment stands any more: the 10.00 on August is the credit note's.
    const refundsBefore = h.payments.refunds.size;
    const refused = await h.gqlError(REFUND, { i: { paymentId: card, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'rcr-1-refund-2' } });
    expect(refused, 'the credit-note money must not leave as card cash').toMatchObject({ reason: 'REFUND_EXCEEDS_AVAILABLE', field: 'input.amount.amount' });
    expect(h.payments.refunds.size).toBe(refundsBefore);
    expect({ aug: await view('acc_rcr_1', aug.id), credit: await credit('acc_rcr_1') }).toEqual({ aug: { state: 'PARTIALLY_PAID', amountPaid: '10', amountDue: '15.69' }, credit: '0' });
    expect(await sums(aug.id)).toEqual({ amountPaid: '10.00', paymentsNet: '10.00' });
  });

  it('a CREDIT note takes credit-paid money back to credit first: the card money stays refundable, the sums add up', async () => {
    const { aug, card } = await paidAugust('acc_rcr_2', 'rcr-2-card');
    await h.gql(NOTE, { i: { invoiceId: aug.id, kind: 'CREDIT', reason: 'Outage', lines: [{ invoiceLineId: aug.lines[0].id, amount: '10.00' }], idempotencyKey: 'rcr-2-note-1' } });
    await h.gql(REFUND, { i: { paymentId: card, amount: { amount: '25.69', currency: 'EUR' }, idempotencyKey: 'rcr-2-refund-1' } });
    // August: 10.00 paid by credit, 15.69 owed. The customer pays it by card again.
    const again = (await h.gql<any>(PAY, { i: { invoiceId: aug.id, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount: '15.69', currency: 'EUR' }, idempotencyKey: 'rcr-2-card-2' } })).recordPayment.payment.id;
    expect(await sums(aug.id)).toEqual({ amountPaid: '25.69', paymentsNet: '25.69' });
    // Another 5.00 of goodwill on August: the credit that paid it goes back to credit, not the new card money.
    await h.gql(NOTE, { i: { invoiceId: aug.id, kind: 'CREDIT', reason: 'Second outage', lines: [{ invoiceLineId: aug.lines[0].id, amount: '5.00' }], idempotencyKey: 'rcr-2-note-2' } });
    expect({ aug: await view('acc_rcr_2', aug.id), credit: await credit('acc_rcr_2') }).toEqual({ aug: { state: 'SETTLED', amountPaid: '20.69', amountDue: '0' }, credit: '5' });
    expect(await sums(aug.id)).toEqual({ amountPaid: '20.69', paymentsNet: '20.69' });
    // The second card payment is refundable in full; the first one not at all.
    expect(await h.gqlError(REFUND, { i: { paymentId: card, amount: { amount: '0.01', currency: 'EUR' }, idempotencyKey: 'rcr-2-refund-2' } })).toMatchObject({ reason: 'REFUND_EXCEEDS_AVAILABLE' });
    await h.gql(REFUND, { i: { paymentId: again, amount: { amount: '15.69', currency: 'EUR' }, idempotencyKey: 'rcr-2-refund-3' } });
    expect({ aug: await view('acc_rcr_2', aug.id), credit: await credit('acc_rcr_2') }).toEqual({ aug: { state: 'PARTIALLY_PAID', amountPaid: '10', amountDue: '10.69' }, credit: '0' });
    expect(await sums(aug.id)).toEqual({ amountPaid: '10.00', paymentsNet: '10.00' });
  });
});
