// A card payment retried after its capture once the invoice was paid some other way. recordPayment
// asks the provider to charge first (provider key = the caller's idempotencyKey) and only then writes
// the payment; when that transaction failed after the capture (a lost connection, a lock timeout) the
// client retried with the same key and the provider answered the same capture — but if meanwhile the
// invoice was paid otherwise (a bank transfer, another card payment, account credit) the retry was
// refused PAYMENT_EXCEEDS_REMAINING before the provider was asked, and every later retry too: the
// customer's money stayed captured at the provider with nothing on the ledger, for ever.
// Correct: a card request whose key the provider already captured is recorded whatever the invoice
// still owes; what it no longer owes becomes account credit (as autopay and allowOverpayment keep
// it). Recorded once: a retry after that answers the same payment. A new card request above what is
// owed is still refused before the card is charged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChargeCardRequest } from '../src/adapters/payment-provider';
import { startHarness, type Harness } from './support';
import { closedSeptember, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
let failAfterCapture = false;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
  const charge = h.payments.charge.bind(h.payments);
  h.payments.charge = async (req: ChargeCardRequest) => {
    const r = await charge(req);
    if (failAfterCapture) {
      failAfterCapture = false;
      // Captured at the provider, then our side fails before it commits (connection lost).
      throw new Error('connection terminated after the capture');
    }
    return r;
  };
});
afterAll(async () => h?.svc.close());

const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id amount { amount } appliedAmount { amount } creditAmount { amount } providerRef } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } amountPaid { amount } } }';
const card = (invoiceId: string, amount: string, key: string) => ({ i: { invoiceId, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount, currency: 'EUR' }, idempotencyKey: key } });
const bank = (invoiceId: string, amount: string, key: string) => ({ i: { invoiceId, channel: 'BANK_TRANSFER', amount: { amount, currency: 'EUR' }, idempotencyKey: key } });
const errorOf = (r: any) => (r.errors?.length ? { code: r.errors[0].extensions?.code, reason: r.errors[0].extensions?.reason } : 'ok');
const credit = async (acc: string) => (await h.gql<any>(`query { _entities(representations: [{ __typename: "BillingAccount", id: "${acc}" }]) { ... on BillingAccount { accountCredit { amount } } } }`))._entities[0].accountCredit.amount;
const db = () => h.svc.runtime.orm.em.fork().getConnection();
const cardRows = async (acc: string) =>
  ((await db().execute(`select id, amount::text as amount, applied_amount::text as applied, credit_amount::text as credit, idempotency_key as key from payment where billing_account_id = ? and channel = 'CARD' order by created_at, id`, [acc])) as any[]).map((p) => ({
    id: p.id,
    amount: Number(p.amount),
    applied: Number(p.applied),
    credit: Number(p.credit),
    key: p.key,
  }));

describe('a card capture whose commit failed is recorded on retry, whatever the invoice still owes', () => {
  it('the invoice paid by bank transfer meanwhile: the retry records the capture, all of it as account credit, once', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_crp_1', 'cus_crp_1')).id })).invoice;
    const total = inv.total.amount;

    failAfterCapture = true;
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, total, 'crp-1-card'))), 'the first attempt failed after the capture').not.toBe('ok');
    expect(h.payments.charges.has('payment:acc_crp_1:crp-1-card'), 'the card was captured').toBe(true);
    expect(await cardRows('acc_crp_1')).toEqual([]);

    // Meanwhile the customer pays the invoice by bank transfer.
    expect(errorOf(await h.svc.request<any>(PAY, bank(inv.id, total, 'crp-1-bank')))).toBe('ok');
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.state).toBe('SETTLED');

    // The client retries its card payment with the same key.
    const retry = await h.svc.request<any>(PAY, card(inv.id, total, 'crp-1-card'));
    expect(errorOf(retry), 'the captured money is recorded, not refused').toBe('ok');
    const payment = retry.data.recordPayment.payment;
    expect(payment).toMatchObject({ amount: { amount: total }, appliedAmount: { amount: '0' }, creditAmount: { amount: total }, providerRef: h.payments.charges.get('payment:acc_crp_1:crp-1-card')!.providerRef });
    expect(await credit('acc_crp_1')).toBe(total);

    // Once: the same key again answers the same payment.
    const again = await h.svc.request<any>(PAY, card(inv.id, total, 'crp-1-card'));
    expect(errorOf(again)).toBe('ok');
    expect(again.data.recordPayment.payment.id).toBe(payment.id);
    expect(await cardRows('acc_crp_1')).toEqual([{ id: payment.id, amount: Number(total), applied: 0, credit: Number(total), key: 'crp-1-card' }]);
    expect(await credit('acc_crp_1')).toBe(total);
    expect([...h.payments.charges.keys()].filter((k) => k.endsWith('crp-1-card')), 'one capture at the provider').toHaveLength(1);
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.amountPaid.amount).toBe(total);
  });

  it('the invoice partly paid by another card meanwhile: what it still owes is applied, the rest kept as credit', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_crp_2', 'cus_crp_2')).id })).invoice;
    const total = inv.total.amount;

    failAfterCapture = true;
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, total, 'crp-2-card')))).not.toBe('ok');
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, '10.00', 'crp-2-other')))).toBe('ok');

    const retry = await h.svc.request<any>(PAY, card(inv.id, total, 'crp-2-card'));
    expect(errorOf(retry)).toBe('ok');
    const owed = (Number(total) - 10).toFixed(2);
    expect(retry.data.recordPayment.payment).toMatchObject({ appliedAmount: { amount: owed }, creditAmount: { amount: '10' } });
    expect(await credit('acc_crp_2')).toBe('10');
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice).toMatchObject({ state: 'SETTLED', amountPaid: { amount: total } });
  });

  it('a new card request above what is owed is still refused before the card is charged', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_crp_3', 'cus_crp_3')).id })).invoice;
    expect(errorOf(await h.svc.request<any>(PAY, bank(inv.id, inv.total.amount, 'crp-3-bank')))).toBe('ok');
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, '5.00', 'crp-3-card')))).toEqual({ code: 'BAD_USER_INPUT', reason: 'PAYMENT_EXCEEDS_REMAINING' });
    expect([...h.payments.charges.keys()].some((k) => k.endsWith('crp-3-card')), 'not charged').toBe(false);
    expect(await cardRows('acc_crp_3')).toEqual([]);
  });
});

// The "voided meanwhile" case STATUS.md listed as left open cannot arise: a card is charged only on an
// issued invoice (a draft is refused INVOICE_NOT_ISSUED before the provider is asked) and only a draft
// can be voided or regenerated (an issued one is INVOICE_ILLEGAL_TRANSITION). So between a capture whose
// commit failed and its retry the invoice stays issued, and the retry is recorded on it.
describe('a card capture whose commit failed: its invoice cannot be voided before the retry', () => {
  const VOID = 'mutation($i: InvoiceIdInput!) { voidInvoice(input: $i) { invoice { id state } } }';
  const REGENERATE = 'mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id state } } }';

  it('void and regenerate are refused on the captured invoice; the retry records the capture on it, once', async () => {
    const inv = (await h.gql<any>(INVOICE, { id: (await closedSeptember(h, 'acc_crp_4', 'cus_crp_4')).id })).invoice;
    expect(inv.state, 'only an issued invoice is charged').toBe('SENT');
    const total = inv.total.amount;

    failAfterCapture = true;
    expect(errorOf(await h.svc.request<any>(PAY, card(inv.id, total, 'crp-4-card')))).not.toBe('ok');
    expect(h.payments.charges.has('payment:acc_crp_4:crp-4-card'), 'the card was captured').toBe(true);

    // Staff try to void (or regenerate) the invoice before the client retries.
    for (const m of [VOID, REGENERATE]) expect(await h.gqlError(m, { i: { invoiceId: inv.id } })).toMatchObject({ reason: 'INVOICE_ILLEGAL_TRANSITION', field: 'input.invoiceId' });
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice.state).toBe('SENT');

    const retry = await h.svc.request<any>(PAY, card(inv.id, total, 'crp-4-card'));
    expect(errorOf(retry)).toBe('ok');
    const payment = retry.data.recordPayment.payment;
    expect(payment).toMatchObject({ appliedAmount: { amount: total }, creditAmount: { amount: '0' }, providerRef: h.payments.charges.get('payment:acc_crp_4:crp-4-card')!.providerRef });
    expect((await h.svc.request<any>(PAY, card(inv.id, total, 'crp-4-card'))).data.recordPayment.payment.id).toBe(payment.id);
    expect(await cardRows('acc_crp_4')).toEqual([{ id: payment.id, amount: Number(total), applied: Number(total), credit: 0, key: 'crp-4-card' }]);
    expect((await h.gql<any>(INVOICE, { id: inv.id })).invoice).toMatchObject({ state: 'SETTLED', amountPaid: { amount: total } });
  });
});
