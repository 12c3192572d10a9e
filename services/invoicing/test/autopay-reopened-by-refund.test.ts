// An autopay invoice a refund reopens (refundPayment gives back money paid on it without lowering it:
// staff mean the money is owed again — a goodwill give-back or an overcharge is a CREDIT/REFUND credit
// note, which lowers the invoice and reopens nothing).
// The rule (2027-02): autopay charges an invoice once, on its due date, what it owes then.
//  - Reopened BEFORE its due date: charged on the due date like any open invoice (the customer's standing
//    instruction), and the refund's event says so (`autopayCharge: 'DUE_DATE'`: "we will charge it to your
//    card on file on …").
//  - Reopened ON or AFTER its due date: never charged to the card automatically — the refund was made to
//    give that money back, and charging the same card again at the next pass would undo it. It is dunned
//    (dunning-again-after-refund.test.ts) and the event says the card is not charged (`autopayCharge: 'NONE'`:
//    "pay it in the app …"). Before, that held only when the due-date attempt had run: an invoice paid in
//    full before its due date (no attempt: nothing was owed) and refunded after it was charged to the card
//    at the very next pass, under the due-date key `autopay:<invoiceId>`, while the customer was told to
//    pay it in the app.
// Real PostgreSQL; the autopay harness of the dispute tests (autopay-support.ts).
import { dec } from '@ledgerline/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { Harness } from './support';
import { disputeCalls } from './dispute-support';
import { JOB, autopayCalls } from './autopay-support';

let h: Harness;
const { startWithAutopayAccounts, closeSeptember, cardCharges, attemptsOf, wasDunned, view } = autopayCalls(() => h);
const { as, db, outbox } = disputeCalls(() => h);
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-apr', scopes: [] };
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } invoice { state } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';

const payByCard = async (invoiceId: string, amount: string, key: string) =>
  (await as(ADMIN, PAY, { i: { invoiceId, channel: 'CARD', amount: { amount, currency: 'EUR' }, idempotencyKey: key, paymentMethodToken: 'tok_other_card' } })).recordPayment;
const refund = (paymentId: string, amount: string, key: string) => as(ADMIN, REFUND, { i: { paymentId, amount: { amount, currency: 'EUR' }, idempotencyKey: key, reason: 'customer asked' } });
const refundEvent = async (paymentId: string) => (await outbox('billing.invoicing.refund.created')).filter((e: any) => e.data.paymentId === paymentId).map((e: any) => e.data);
const autopayPayment = async (invoiceId: string) => ((await db().execute(`select id from payment where invoice_id = ? and idempotency_key = ?`, [invoiceId, `autopay:${invoiceId}`])) as any[])[0].id as string;

beforeAll(async () => {
  h = await startWithAutopayAccounts(['acc_apr_before', 'acc_apr_after', 'acc_apr_paid_early']);
});
afterAll(async () => h?.svc.close());

describe('autopay and an invoice a refund reopens', () => {
  it('reopened before its due date: charged on the due date like any open invoice, once; the customer is told the card will be charged', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember('acc_apr_before');
    h.clock.set(new Date('2026-10-02T10:00:00Z'));
    const paid = await payByCard(inv.id, '35.69', 'apr-before-pay');
    expect(paid.invoice.state).toBe('SETTLED');
    h.clock.set(new Date('2026-10-03T10:00:00Z'));
    await refund(paid.payment.id, '10.00', 'apr-before-refund');
    expect(await refundEvent(paid.payment.id)).toEqual([expect.objectContaining({ reopened: true, amountDue: '10.00', dueDate: inv.dueDate, autopayCharge: 'DUE_DATE' })]);

    // Not before the due date.
    await h.gql(JOB);
    expect(cardCharges(inv.id)).toEqual([]);
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    await h.gql(JOB);
    expect(cardCharges(inv.id), 'what it owes again, on the due date, once').toEqual([[`autopay:${inv.id}`, '10.00']]);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
    expect(wasDunned(inv.id)).toBe(0);
  });

  it('reopened after the due-date charge: the card is not charged again (no new attempt, the first key never re-used); dunned; the customer is told to pay', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember('acc_apr_after');
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    expect(cardCharges(inv.id)).toEqual([[`autopay:${inv.id}`, '35.69']]);

    h.clock.set(new Date('2026-10-06T10:00:00Z'));
    const pay = await autopayPayment(inv.id);
    await refund(pay, '10.00', 'apr-after-refund');
    expect(await refundEvent(pay)).toEqual([expect.objectContaining({ reopened: true, amountDue: '10.00', autopayCharge: 'NONE' })]);
    await h.gql(JOB);
    h.clock.set(new Date('2026-10-07T10:00:00Z'));
    await h.gql(JOB);
    expect(cardCharges(inv.id), 'only the due-date charge').toEqual([[`autopay:${inv.id}`, '35.69']]);
    expect(await attemptsOf(inv.id)).toEqual([[1, 'SUCCEEDED', '35.69', `autopay:${inv.id}`, null]]);
    expect(wasDunned(inv.id)).toBe(1);
    expect(dec((await view(inv.id)).amountDue).toFixed(2)).toBe('10.00');
  });

  it('paid in full before its due date and reopened after it: not charged to the card at the next pass either; dunned; the customer is told to pay', async () => {
    h.clock.set(new Date('2026-10-01T08:00:00Z'));
    const inv = await closeSeptember('acc_apr_paid_early');
    h.clock.set(new Date('2026-10-02T10:00:00Z'));
    const paid = await payByCard(inv.id, '35.69', 'apr-early-pay');
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    expect(cardCharges(inv.id), 'nothing owed on the due date').toEqual([]);

    h.clock.set(new Date('2026-10-06T10:00:00Z'));
    await refund(paid.payment.id, '10.00', 'apr-early-refund');
    await h.gql(JOB);
    h.clock.set(new Date('2026-10-07T10:00:00Z'));
    await h.gql(JOB);
    expect(cardCharges(inv.id), 'the refund is not taken back from the card').toEqual([]);
    expect(wasDunned(inv.id), 'dunned as the customer is told').toBe(1);
    expect(dec((await view(inv.id)).amountDue).toFixed(2)).toBe('10.00');
    expect(await attemptsOf(inv.id), 'the due-date attempt, recorded when it was reopened: nothing charged').toEqual([[1, 'REOPENED_LATE', null, null, null]]);
    expect(await refundEvent(paid.payment.id)).toEqual([expect.objectContaining({ reopened: true, amountDue: '10.00', autopayCharge: 'NONE' })]);
  });
});
