// A statement line received again (an import run twice, or a re-import of an older statement) after
// staff dealt with it answered outcome UNAPPLIED although its row said APPLIED or REFUNDED: an import
// tool reading the outcome took a line paid to an invoice (or paid back to the payer) for one still
// waiting on the suspense list.
// Correct: the outcome says what happened to the line: APPLIED with the payment staff's apply made
// (and its invoice) once applied, REFUNDED once paid back, UNAPPLIED while it waits; the row as it
// is alongside. Nothing new is stored or emitted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const { as, db } = disputeCalls(() => h);
const AGENT = agent('agent-ivo');

const ROW = 'id status appliedInvoiceId appliedPaymentId payoutReference';
const RECEIVE = `mutation($i: ReceiveBankTransferInput!) { receiveBankTransfer(input: $i) { outcome payment { id invoiceId channel } invoice { id state } unappliedPayment { ${ROW} } } }`;
const APPLY = `mutation($i: ApplyUnappliedPaymentInput!) { applyUnappliedPayment(input: $i) { unappliedPayment { ${ROW} } payment { id } } }`;
const REFUND = `mutation($i: RefundUnappliedPaymentInput!) { refundUnappliedPayment(input: $i) { unappliedPayment { ${ROW} } } }`;

const line = (bankTransactionId: string, amount: string) => ({ bankTransactionId, reference: `unknown payer ${bankTransactionId}`, amount: { amount, currency: 'EUR' }, payerName: 'P. Payer', receivedAt: '2026-09-30T09:00:00Z' });
const receive = async (i: Record<string, unknown>) => (await as(AGENT, RECEIVE, { i })).receiveBankTransfer;
const count = async (text: string, params: unknown[] = []) => Number((await db().execute(text, params))[0].n);
/** What receiving a line may store or emit: unapplied rows, payments, outbox rows. */
const stored = async () => ({
  unapplied: await count('select count(*) as n from unapplied_payment'),
  payments: await count('select count(*) as n from payment'),
  outbox: await count('select count(*) as n from outbox'),
});

describe('receiveBankTransfer of a line received before and dealt with since', () => {
  it('applied by staff since: outcome APPLIED with the payment of the apply and its invoice; nothing new', async () => {
    const inv = await closedSeptember(h, 'acc_bt_again_apply', 'cus_acc_bt_again_apply');
    const i = line('bt-again-apply', '10.00');
    const first = await receive(i);
    expect(first).toMatchObject({ outcome: 'UNAPPLIED', payment: null, unappliedPayment: { status: 'UNAPPLIED' } });
    const applied = (await as(AGENT, APPLY, { i: { unappliedPaymentId: first.unappliedPayment.id, invoiceId: inv.id, idempotencyKey: 'bt-again-apply' } })).applyUnappliedPayment;
    h.clock.advance(3_600_000);
    const before = await stored();
    const again = await receive(i);
    expect(again).toMatchObject({
      outcome: 'APPLIED',
      payment: { id: applied.payment.id, invoiceId: inv.id, channel: 'BANK_TRANSFER' },
      invoice: { id: inv.id },
      unappliedPayment: { id: first.unappliedPayment.id, status: 'APPLIED', appliedInvoiceId: inv.id, appliedPaymentId: applied.payment.id },
    });
    expect(await stored()).toEqual(before);
  });

  it('paid back since: outcome REFUNDED with the row; nothing new', async () => {
    const i = line('bt-again-refund', '12.00');
    const first = await receive(i);
    await as(AGENT, REFUND, { i: { unappliedPaymentId: first.unappliedPayment.id, payoutReference: 'SEPA-OUT-again', note: 'Payer unknown', idempotencyKey: 'bt-again-refund' } });
    h.clock.advance(3_600_000);
    const before = await stored();
    const again = await receive(i);
    expect(again).toEqual({ outcome: 'REFUNDED', payment: null, invoice: null, unappliedPayment: { id: first.unappliedPayment.id, status: 'REFUNDED', appliedInvoiceId: null, appliedPaymentId: null, payoutReference: 'SEPA-OUT-again' } });
    expect(await stored()).toEqual(before);
  });

  it('still waiting: outcome UNAPPLIED, as before; nothing new', async () => {
    const i = line('bt-again-waiting', '13.00');
    const first = await receive(i);
    const before = await stored();
    expect(await receive(i)).toEqual(first);
    expect(first.outcome).toBe('UNAPPLIED');
    expect(await stored()).toEqual(before);
  });
});
