// Follow-ups of the disputes review (2026-11-27):
// 1. A paid invoice could not be disputed (the amount was capped at what is still owed), so a
//    customer paid by autopay on the due date could never dispute a wrong charge. Now an issued
//    invoice is disputed up to what can still be credited; only an invoice that still owes is held,
//    a SETTLED one keeps its state, and an accepted dispute's credit becomes account credit that pays
//    the account's other open invoices.
// 2. An assessment whose auto-accept no longer fits (the line was credited apart in between) threw,
//    failing the workflow's first activity and leaving the dispute OPEN; now it goes to review.
// 3. resolveDispute closed open disputes with an internal note that the customer was sent.
// 4. The assessment facts carry the currency (the goodwill rule's 500 minor units are not 500 JPY).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, startHarness, subscribe, type Harness } from './support';
import { NO_DISPUTE_WORKFLOW, agent, customer, disputeCalls, disputeMutations, lateFee, recordingDunning } from './dispute-support';

let h: Harness;
const { dunning, dunningPokes } = recordingDunning();

const AGENT = agent('agent-fup');

const D = `id status amount { amount } assessment creditedAmount { amount } creditNoteId decidedBy decisionNote reviewDueAt`;
const { OPEN, DECIDE, ASSESS } = disputeMutations(D);
const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { invoice { state } } }';
const INVOICE = `query($id: ID!) { invoice(id: $id) { id state total { amount } amountDue { amount } amountPaid { amount } amountDisputed { amount } amountCredited { amount }
  lines { id kind grossAmount { amount } creditedAmount { amount } } } }`;

const { as, refusal, db, outbox, credit } = disputeCalls(() => h);
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const pay = (invoiceId: string, amount: string, key: string) => h.gql(PAY, { i: { invoiceId, channel: 'BANK_TRANSFER', amount: { amount, currency: 'EUR' }, idempotencyKey: key } });
const view = (i: any) => ({ state: i.state, amountDue: i.amountDue.amount, amountPaid: i.amountPaid.amount, amountDisputed: i.amountDisputed.amount });

const MONTHS = {
  aug: { periodStart: '2026-07-31T22:00:00Z', periodEnd: '2026-08-31T22:00:00Z' },
  sep: { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
};

/** An account of customer `cus` with issued August and September invoices (POSTPAID_20GB, 35.69 each; a late fee on September when asked). */
async function twoInvoices(acc: string, cus: string, withLateFee = false): Promise<{ aug: any; sep: any }> {
  await account(h, acc, { customerId: cus });
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-07-01T00:00:00Z');
  if (withLateFee) await lateFee(h, acc);
  const ids: Record<string, string> = {};
  for (const [m, period] of Object.entries(MONTHS)) {
    const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id state } } } }', { i: { billingAccountId: acc, ...period } });
    expect(r.closeBillingPeriod.billingPeriod.invoice.state).toBe('SENT');
    ids[m] = r.closeBillingPeriod.billingPeriod.invoice.id;
  }
  return { aug: await invoice(ids.aug!), sep: await invoice(ids.sep!) };
}

beforeAll(async () => {
  h = await startHarness('2026-10-05T08:00:00Z', { consume: false, runBillRuns: false, dunning, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

describe('1. disputing a paid invoice', () => {
  it('a SETTLED invoice is disputed up to what can still be credited, keeps its state, and an accepted dispute becomes credit that pays the open August invoice', async () => {
    const acc = 'acc_fup_paid';
    const cus = customer('cus_fup_paid');
    const { aug, sep } = await twoInvoices(acc, 'cus_fup_paid');
    expect(sep.total.amount).toBe('35.69');
    // Autopay paid September on its due date; August is still open and dunned.
    await pay(sep.id, '35.69', 'fup-paid-sep');
    await db().execute(`update invoice set dunning_started_at = now(), dunning_runs = 1 where id in (?, ?)`, [aug.id, sep.id]);
    dunningPokes.length = 0;

    const a = (await as(cus, OPEN, { i: { invoiceId: sep.id, amount: '10.00', reason: 'Roaming day I never had', idempotencyKey: 'fup-paid-a' } })).openDispute.dispute;
    expect(a.status).toBe('OPEN');
    expect(view(await invoice(sep.id)), 'a paid invoice keeps its state: nothing to collect, nothing to hold').toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '10' });
    expect(dunningPokes, 'no dunning to tell about a paid invoice').toEqual([]);

    // At most what can still be credited: 35.69 − 10.00 disputed already.
    expect(await refusal(cus, OPEN, { i: { invoiceId: sep.id, amount: '25.70', reason: 'The rest and more', idempotencyKey: 'fup-paid-over' } })).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount' });
    const b = (await as(cus, OPEN, { i: { invoiceId: sep.id, amount: '25.69', reason: 'The rest', idempotencyKey: 'fup-paid-b' } })).openDispute.dispute;
    expect((await invoice(sep.id)).amountDisputed.amount).toBe('35.69');

    // Assessed: above the goodwill limit, so review; the invoice is untouched.
    expect((await h.gql<any>(ASSESS, { i: { disputeId: a.id } })).assessDispute.dispute.status).toBe('IN_REVIEW');
    expect((await invoice(sep.id)).state).toBe('SETTLED');

    // Rejected: the invoice stays SETTLED, its disputed amount goes down.
    await as(AGENT, DECIDE, { i: { disputeId: b.id, decision: 'REJECT', note: 'The rest is right' } });
    expect(view(await invoice(sep.id))).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '35.69', amountDisputed: '10' });

    // Accepted: the credit note's 10.00 becomes account credit, which pays August (oldest open).
    const accepted = (await as(AGENT, DECIDE, { i: { disputeId: a.id, decision: 'ACCEPT', note: 'That roaming day was ours' } })).decideDispute.dispute;
    expect(accepted).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '10' } });
    expect(view(await invoice(sep.id))).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '25.69', amountDisputed: '0' });
    expect(view(await invoice(aug.id)), 'the credit pays the open August invoice').toEqual({ state: 'PARTIALLY_PAID', amountDue: '25.69', amountPaid: '10', amountDisputed: '0' });
    expect(await credit(acc)).toBe('0');
    expect(dunningPokes).toContainEqual([aug.id, 'paymentRecorded']);
  });

  it('a partly paid invoice is held for a dispute above what it owes; accepted, what was paid on top becomes credit for August and the invoice is SETTLED', async () => {
    const acc = 'acc_fup_part';
    const cus = customer('cus_fup_part');
    const { aug, sep } = await twoInvoices(acc, 'cus_fup_part');
    await pay(sep.id, '30.00', 'fup-part-sep');
    await db().execute(`update invoice set dunning_started_at = now(), dunning_runs = 1 where id = ?`, [sep.id]);
    dunningPokes.length = 0;

    const a = (await as(cus, OPEN, { i: { invoiceId: sep.id, amount: '20.00', reason: 'Charged for a plan I cancelled', idempotencyKey: 'fup-part-a' } })).openDispute.dispute;
    const b = (await as(cus, OPEN, { i: { invoiceId: sep.id, amount: '5.00', reason: 'And this', idempotencyKey: 'fup-part-b' } })).openDispute.dispute;
    expect(view(await invoice(sep.id)), 'held: it still owed 5.69; disputed may exceed that').toEqual({ state: 'ON_HOLD', amountDue: '5.69', amountPaid: '30', amountDisputed: '25' });
    expect(dunningPokes).toContainEqual([sep.id, 'disputeChanged']);

    await as(AGENT, DECIDE, { i: { disputeId: b.id, decision: 'REJECT', note: 'That one is right' } });
    expect(view(await invoice(sep.id))).toEqual({ state: 'ON_HOLD', amountDue: '5.69', amountPaid: '30', amountDisputed: '20' });

    await as(AGENT, DECIDE, { i: { disputeId: a.id, decision: 'ACCEPT', note: 'The plan was cancelled' } });
    // 20.00 credited: 5.69 of it clears what September owed, 14.31 of what was paid becomes credit, which pays August.
    expect(view(await invoice(sep.id))).toEqual({ state: 'SETTLED', amountDue: '0', amountPaid: '15.69', amountDisputed: '0' });
    expect(view(await invoice(aug.id))).toEqual({ state: 'PARTIALLY_PAID', amountDue: '21.38', amountPaid: '14.31', amountDisputed: '0' });
    expect(await credit(acc)).toBe('0');
  });

  it('a partly paid invoice whose dispute is rejected goes back to PARTIALLY_PAID', async () => {
    const { sep } = await twoInvoices('acc_fup_rej', 'cus_fup_rej');
    await pay(sep.id, '30.00', 'fup-rej-sep');
    const a = (await as(customer('cus_fup_rej'), OPEN, { i: { invoiceId: sep.id, amount: '12.00', reason: 'Too much', idempotencyKey: 'fup-rej-a' } })).openDispute.dispute;
    expect((await invoice(sep.id)).state).toBe('ON_HOLD');
    await as(AGENT, DECIDE, { i: { disputeId: a.id, decision: 'REJECT', note: 'It is right' } });
    expect(view(await invoice(sep.id))).toEqual({ state: 'PARTIALLY_PAID', amountDue: '5.69', amountPaid: '30', amountDisputed: '0' });
  });
});

describe('2. an auto-accept that no longer fits', () => {
  it('goes to review with the rule and why it could not be applied, instead of failing the assessment', async () => {
    const { sep } = await twoInvoices('acc_fup_fit', 'cus_fup_fit', true);
    const fee = sep.lines.find((l: any) => l.kind === 'ONE_OFF');
    expect(fee.grossAmount.amount).toBe('8.92'); // 7.50 + 19 % tax
    const d = (await as(customer('cus_fup_fit'), OPEN, { i: { invoiceId: sep.id, invoiceLineId: fee.id, amount: '8.92', reason: 'Paid on time', idempotencyKey: 'fup-fit' } })).openDispute.dispute;
    // Part of the fee is credited apart before the workflow assesses the dispute. (Since 2026-11-27 a
    // credit note takes the room it needs from the line's disputes — disputes-one-model.test.ts — so a
    // credit the dispute does not know of is what is left to reach this: a data fix on the line.)
    await db().execute(`update invoice_line set credited_amount = credited_amount + 3 where id = ?`, [fee.id]);

    const r = await h.svc.request<any>(ASSESS, { i: { disputeId: d.id } });
    expect(r.errors?.[0]?.extensions, 'the assessment answers').toBeUndefined();
    const assessed = r.data!.assessDispute.dispute;
    expect(assessed).toMatchObject({ status: 'IN_REVIEW', creditNoteId: null, creditedAmount: null, decidedBy: null, reviewDueAt: '2026-10-07T08:00:00.000Z' });
    expect(assessed.assessment).toMatchObject({
      decision: 'REVIEW',
      rule: 'first-late-fee-waived',
      facts: { lineKind: 'LATE_FEE', amountMinor: 892, currency: 'EUR' },
      autoAcceptRefused: { code: 'DISPUTE_CREDIT_EXCEEDS_CREDITABLE' },
    });
    expect(assessed.assessment.autoAcceptRefused.message).toMatch(/5\.92 EUR/);
    // Nothing credited by it; the invoice stays held; a second call answers the same.
    expect((await invoice(sep.id))).toMatchObject({ state: 'ON_HOLD', amountDisputed: { amount: '8.92' } });
    expect((await h.gql<any>(ASSESS, { i: { disputeId: d.id } })).assessDispute.dispute).toEqual(assessed);
    // An agent can uphold what is left.
    expect((await as(AGENT, DECIDE, { i: { disputeId: d.id, decision: 'ACCEPT', amount: '5.92', note: 'The rest of the fee is waived' } })).decideDispute.dispute).toMatchObject({ status: 'ACCEPTED', creditedAmount: { amount: '5.92' } });
  });
});

describe('3. resolveDispute', () => {
  it('closes open disputes with a note written for the customer; the internal detail stays in decidedBy', async () => {
    const { sep } = await twoInvoices('acc_fup_res', 'cus_fup_res');
    const d = (await as(customer('cus_fup_res'), OPEN, { i: { invoiceId: sep.id, amount: '3.00', reason: 'One', idempotencyKey: 'fup-res' } })).openDispute.dispute;
    await as(AGENT, 'mutation($i: InvoiceIdInput!) { resolveDispute(input: $i) { invoice { state } } }', { i: { invoiceId: sep.id } });
    const closed = (await h.gql<any>(`query($id: ID!) { dispute(id: $id) { ${D} } }`, { id: d.id })).dispute;
    const note = 'Your dispute was closed when we reviewed the whole invoice; any correction appears as a separate credit note.';
    expect(closed).toMatchObject({ status: 'REJECTED', decisionNote: note });
    expect(closed.decidedBy).toMatch(/resolveDispute/);
    expect(closed.decidedBy).toMatch(/agent-fup/);
    const event = (await outbox('billing.invoicing.dispute.resolved')).find((e: any) => e.data.disputeId === d.id);
    expect(event.data.decisionNote).toBe(note);
  });
});
