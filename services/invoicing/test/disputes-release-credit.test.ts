// Review 12 follow-ups:
// 1. An issued invoice's disputed amount lowered without the hold ending (one of two disputes
//    withdrawn or partly accepted, a staff hold set lower) made part of it due again, but the
//    account's credit did not pay that part until the next credit event (only a released hold applied
//    it). Now every lowering applies the account's credit in the same transaction, under the credit
//    lock the path holds, and the resolvers poke the dunning of what it paid.
// 2. Accepting a dispute whose credit note closed other open disputes of the invoice (credit-note-
//    disputes.ts) signalled only the decided dispute's workflow; now every dispute the note closed is
//    poked too, after commit, best effort.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DisputeStarter } from '../src/ports/disputes';
import { account, startHarness, subscribe, type Harness } from './support';
import { agent, customer, disputeCalls, disputeMutations, recordingDunning } from './dispute-support';

let h: Harness;
const { dunning, dunningPokes } = recordingDunning();
const disputePokes: string[] = [];
const disputes: DisputeStarter = { start: async () => undefined, poke: async (disputeId) => void disputePokes.push(disputeId) };
const AGENT = agent('agent-rel');

const { OPEN, DECIDE, WITHDRAW } = disputeMutations('id status');
const HOLD = 'mutation($i: DisputeInvoiceInput!) { disputeInvoice(input: $i) { invoice { id state } } }';
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } amountPaid { amount } amountDisputed { amount } disputes { id status amount { amount } } } }';

const { as, db, credit } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const view = (i: any) => ({ state: i.state, amountPaid: i.amountPaid.amount, amountDisputed: i.amountDisputed.amount });

/** Issued August and September invoices (35.69 each) of a customer's account. */
async function twoInvoices(acc: string, cus: string): Promise<{ aug: string; sep: string }> {
  await account(h, acc, { customerId: cus });
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-07-01T00:00:00Z');
  const ids: string[] = [];
  for (const [periodStart, periodEnd] of [['2026-07-31T22:00:00Z', '2026-08-31T22:00:00Z'], ['2026-08-31T22:00:00Z', '2026-09-30T22:00:00Z']]) {
    const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state total { amount } } } } }', { i: { billingAccountId: acc, periodStart, periodEnd } });
    expect([r.closeBillingPeriod.billingPeriod.invoice.state, r.closeBillingPeriod.billingPeriod.invoice.total.amount]).toEqual(['SENT', '35.69']);
    ids.push(r.closeBillingPeriod.billingPeriod.invoice.id);
  }
  return { aug: ids[0]!, sep: ids[1]! };
}

/** August paid with 20.00 too much: 20.00 of account credit, which September (held in full) cannot take. */
async function creditWhileHeld(acc: string, aug: string, sep: string): Promise<void> {
  await h.gql(PAY, { i: { invoiceId: aug, channel: 'BANK_TRANSFER', amount: { amount: '55.69', currency: 'EUR' }, idempotencyKey: `${acc}-over`, allowOverpayment: true } });
  expect(await credit(acc)).toBe('20');
  expect(view(await invoice(sep))).toEqual({ state: 'ON_HOLD', amountPaid: '0', amountDisputed: '35.69' });
  await db().execute(`update invoice set dunning_started_at = now() where id = '${sep}'`);
  dunningPokes.length = 0;
  disputePokes.length = 0;
}

beforeAll(async () => {
  h = await startHarness('2026-10-05T08:00:00Z', { consume: false, runBillRuns: false, dunning, disputes });
});
afterAll(async () => h?.svc.close());

describe('1. a disputed amount lowered while the invoice stays held: the account credit pays what became due', () => {
  it('one of two disputes withdrawn', async () => {
    const { aug, sep } = await twoInvoices('acc_rel_wd', 'cus_rel_wd');
    const a = (await as(customer('cus_rel_wd'), OPEN, { i: { invoiceId: sep, amount: '30.00', reason: 'Roaming', idempotencyKey: 'rel-wd-a' } })).openDispute.dispute;
    await as(customer('cus_rel_wd'), OPEN, { i: { invoiceId: sep, amount: '5.69', reason: 'Fee', idempotencyKey: 'rel-wd-b' } });
    await creditWhileHeld('acc_rel_wd', aug, sep);
    await as(customer('cus_rel_wd'), WITHDRAW, { i: { disputeId: a.id } });
    // 30.00 is due again; the 20.00 credit pays it at once, the rest stays held.
    expect(view(await invoice(sep))).toEqual({ state: 'ON_HOLD', amountPaid: '20', amountDisputed: '5.69' });
    expect(await credit('acc_rel_wd')).toBe('0');
    expect(dunningPokes).toEqual([[sep, 'disputeChanged']]);
  });

  it('one of two disputes partly accepted', async () => {
    const { aug, sep } = await twoInvoices('acc_rel_pa', 'cus_rel_pa');
    const a = (await as(customer('cus_rel_pa'), OPEN, { i: { invoiceId: sep, amount: '30.00', reason: 'Roaming', idempotencyKey: 'rel-pa-a' } })).openDispute.dispute;
    await as(customer('cus_rel_pa'), OPEN, { i: { invoiceId: sep, amount: '5.69', reason: 'Fee', idempotencyKey: 'rel-pa-b' } });
    await creditWhileHeld('acc_rel_pa', aug, sep);
    await as(AGENT, DECIDE, { i: { disputeId: a.id, decision: 'ACCEPT', amount: '10.00', note: 'Part of the roaming was wrong' } });
    // 35.69 − 10.00 credited − 5.69 still disputed = 20.00 due: paid by the credit.
    expect(view(await invoice(sep))).toEqual({ state: 'ON_HOLD', amountPaid: '20', amountDisputed: '5.69' });
    expect(await credit('acc_rel_pa')).toBe('0');
    expect(dunningPokes).toEqual([[sep, 'disputeChanged']]);
  });

  it('a staff hold set lower (disputeInvoice)', async () => {
    const { aug, sep } = await twoInvoices('acc_rel_st', 'cus_rel_st');
    await as(AGENT, HOLD, { i: { invoiceId: sep, amount: '35.69', reason: 'Review' } });
    await creditWhileHeld('acc_rel_st', aug, sep);
    await as(AGENT, HOLD, { i: { invoiceId: sep, amount: '25.69', reason: 'Review' } });
    expect(view(await invoice(sep))).toEqual({ state: 'ON_HOLD', amountPaid: '10', amountDisputed: '25.69' });
    expect(await credit('acc_rel_st')).toBe('10');
    expect(dunningPokes).toEqual([[sep, 'disputeChanged']]);
  });
});

describe('2. an accepted dispute whose credit note closes other disputes of the invoice', () => {
  it('pokes the workflow of every dispute the note closed, not only the decided one', async () => {
    const { sep } = await twoInvoices('acc_rel_note', 'cus_rel_note');
    const other = (await as(customer('cus_rel_note'), OPEN, { i: { invoiceId: sep, amount: '5.00', reason: 'Fee', idempotencyKey: 'rel-note-other' } })).openDispute.dispute;
    const big = (await as(customer('cus_rel_note'), OPEN, { i: { invoiceId: sep, amount: '30.69', reason: 'Everything', idempotencyKey: 'rel-note-big' } })).openDispute.dispute;
    // A dispute row from before the invoice-wide cap (together they dispute more than the invoice
    // can be credited): the whole invoice credited leaves the other nothing.
    await db().execute(`update dispute set amount = 35.69 where id = '${big.id}'`);
    await db().execute(`update invoice set amount_disputed = 40.69 where id = '${sep}'`);
    disputePokes.length = 0;
    await as(AGENT, DECIDE, { i: { disputeId: big.id, decision: 'ACCEPT', note: 'Upheld' } });
    const after = await invoice(sep);
    expect(after.disputes.map((d: any) => [d.id, d.status]).sort()).toEqual([[big.id, 'ACCEPTED'], [other.id, 'ACCEPTED']].sort());
    expect([...disputePokes].sort()).toEqual([big.id, other.id].sort());
  });
});
