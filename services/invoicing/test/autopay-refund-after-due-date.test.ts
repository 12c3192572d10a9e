// Autopay and a refund on an invoice that still owed (partly paid, so not reopened from settled) made on or
// after its due date, before a due-date pass running behind made its attempt (an outage, a backlog).
// The rule (autopay-reopened.ts, the one of autopay-reopened-by-refund.test.ts): autopay's due-date charge
// takes what the invoice owes less the money refunded from it on or after its due date — what it owed on
// the due date less what was paid or credited since. The refunded money is never charged to the card it was
// just given back to: it is owed, and dunned like any overdue money. The refund's event says so
// (`autopayCharge: 'DUE_DATE'` with `autopayAmount`: the card on file is charged that part only).
// Before, the late pass charged everything the invoice owed then: the 10.00 just refunded went straight
// back onto the card.
// Real PostgreSQL; the autopay harness of the dispute tests (autopay-support.ts), set up as
// autopay-reopened-by-refund.test.ts.
import { dec } from '@ledgerline/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { Harness } from './support';
import { disputeCalls } from './dispute-support';
import { JOB, autopayCalls } from './autopay-support';

let h: Harness;
const { startWithAutopayAccounts, closeSeptember, cardCharges, attemptsOf, wasDunned, view } = autopayCalls(() => h);
const { as, outbox } = disputeCalls(() => h);
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-ard', scopes: [] };
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } invoice { state } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';

const payByCard = async (invoiceId: string, amount: string, key: string) =>
  (await as(ADMIN, PAY, { i: { invoiceId, channel: 'CARD', amount: { amount, currency: 'EUR' }, idempotencyKey: key, paymentMethodToken: 'tok_other_card' } })).recordPayment;
const refund = (paymentId: string, amount: string, key: string) => as(ADMIN, REFUND, { i: { paymentId, amount: { amount, currency: 'EUR' }, idempotencyKey: key, reason: 'customer asked' } });
const refundEvent = async (paymentId: string) => (await outbox('billing.invoicing.refund.created')).filter((e: any) => e.data.paymentId === paymentId).map((e: any) => e.data);
const owes = async (invoiceId: string) => dec((await view(invoiceId)).amountDue).toFixed(2);

beforeAll(async () => {
  h = await startWithAutopayAccounts(['acc_ard_late', 'acc_ard_whole', 'acc_ard_norefund', 'acc_ard_before']);
});
afterAll(async () => h?.svc.close());

/** The September invoice (35.69), 20.00 of it paid by another card on 2026-10-02: it owes 15.69 on its due date. */
async function partlyPaid(acc: string) {
  h.clock.set(new Date('2026-10-01T08:00:00Z'));
  const inv = await closeSeptember(acc);
  h.clock.set(new Date('2026-10-02T10:00:00Z'));
  const paid = await payByCard(inv.id, '20.00', `${acc}-pay`);
  expect(paid.invoice.state).toBe('PARTIALLY_PAID');
  return { inv, paymentId: paid.payment.id as string };
}

describe('autopay and a refund on a partly paid invoice after its due date', () => {
  it('refunded after the due date, before a late due-date pass: the pass charges what was owed on the due date, never the refund; the refund is dunned; the customer is told', async () => {
    const { inv, paymentId } = await partlyPaid('acc_ard_late');
    // No pass on the due date (the job is behind); the refund comes two days after it.
    h.clock.set(new Date('2026-10-06T10:00:00Z'));
    await refund(paymentId, '10.00', 'ard-late-refund');

    await h.gql(JOB);
    await h.gql(JOB);
    expect(cardCharges(inv.id), 'the 15.69 owed on the due date, once; not the 10.00 just refunded').toEqual([[`autopay:${inv.id}`, '15.69']]);
    expect(await attemptsOf(inv.id)).toEqual([[1, 'SUCCEEDED', '15.69', `autopay:${inv.id}`, null]]);
    expect(await owes(inv.id)).toBe('10.00');
    expect(wasDunned(inv.id), 'the refunded money is dunned').toBe(1);
    expect(await refundEvent(paymentId), 'the card is charged 15.69 of the 25.69').toEqual([expect.objectContaining({ reopened: true, amountDue: '25.69', autopayCharge: 'DUE_DATE', autopayAmount: '15.69' })]);
  });

  it('the whole payment refunded after the due date: still only the 15.69 owed on the due date is charged', async () => {
    const { inv, paymentId } = await partlyPaid('acc_ard_whole');
    h.clock.set(new Date('2026-10-05T10:00:00Z'));
    await refund(paymentId, '20.00', 'ard-whole-refund');
    await h.gql(JOB);
    expect(cardCharges(inv.id)).toEqual([[`autopay:${inv.id}`, '15.69']]);
    expect(await owes(inv.id)).toBe('20.00');
    expect(wasDunned(inv.id)).toBe(1);
    expect(await refundEvent(paymentId)).toEqual([expect.objectContaining({ reopened: true, amountDue: '35.69', autopayCharge: 'DUE_DATE', autopayAmount: '15.69' })]);
  });

  it('partly paid, no refund: a late due-date pass charges the rest, not dunned', async () => {
    const { inv } = await partlyPaid('acc_ard_norefund');
    h.clock.set(new Date('2026-10-06T10:00:00Z'));
    await h.gql(JOB);
    await h.gql(JOB);
    expect(cardCharges(inv.id)).toEqual([[`autopay:${inv.id}`, '15.69']]);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
    expect(wasDunned(inv.id)).toBe(0);
  });

  it('refunded before the due date: the due-date pass charges the refunded money with the rest; the customer is told the card is charged', async () => {
    const { inv, paymentId } = await partlyPaid('acc_ard_before');
    h.clock.set(new Date('2026-10-03T10:00:00Z'));
    await refund(paymentId, '10.00', 'ard-before-refund');
    const [event] = await refundEvent(paymentId);
    expect(event).toMatchObject({ reopened: true, amountDue: '25.69', autopayCharge: 'DUE_DATE' });
    expect(event.autopayAmount, 'all of it is charged').toBeUndefined();
    h.clock.set(new Date('2026-10-04T09:00:00Z'));
    await h.gql(JOB);
    expect(cardCharges(inv.id)).toEqual([[`autopay:${inv.id}`, '25.69']]);
    expect(await view(inv.id)).toMatchObject({ state: 'SETTLED', amountDue: '0' });
    expect(wasDunned(inv.id)).toBe(0);
  });
});
