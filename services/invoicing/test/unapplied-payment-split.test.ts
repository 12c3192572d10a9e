// One bank statement line often pays several invoices (two months in one transfer), or part of one;
// or part of it has to go back to the payer. applyUnappliedPayment applied a whole line to exactly
// one invoice (the rest became account credit), refundUnappliedPayment paid back a whole line, and
// the gauges counted the line's original amount.
// Correct: apply and refund take an optional amount (default: all that remains). The line keeps its
// remainingAmount and goes UNAPPLIED → PARTIALLY_APPLIED → APPLIED (REFUNDED when a refund takes the
// last of it); each apply is its own payment under its own idempotency key (same key and input: the
// same answer; other input: IDEMPOTENCY_KEY_REUSED); more than remains is refused
// (UNAPPLIED_PAYMENT_EXCEEDS_REMAINING, input.amount), also when two applies at once together ask for
// more (the row's lock: exactly what fits). The gauges count what remains.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetrics } from '@ledgerline/platform';
import { dec } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const { as, refusal, db, outbox, credit } = disputeCalls(() => h);
const AGENT = agent('agent-sina');
const OTHER_AGENT = agent('agent-tom');

const ROW = 'id status amount { amount currency } remainingAmount { amount currency } appliedInvoiceId appliedPaymentId payoutReference applications { invoiceId paymentId amount { amount } appliedBy appliedAt } refunds { amount { amount } payoutReference refundedBy }';
const RECEIVE = `mutation($i: ReceiveBankTransferInput!) { receiveBankTransfer(input: $i) { outcome payment { id } invoice { id } unappliedPayment { ${ROW} } } }`;
const APPLY = `mutation($i: ApplyUnappliedPaymentInput!) { applyUnappliedPayment(input: $i) { unappliedPayment { ${ROW} } payment { id invoiceId amount { amount } creditAmount { amount } } invoice { id state amountPaid { amount } amountDue { amount } } } }`;
const REFUND = `mutation($i: RefundUnappliedPaymentInput!) { refundUnappliedPayment(input: $i) { unappliedPayment { ${ROW} } } }`;
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } amountPaid { amount } amountDue { amount } } }';

const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const issued = async (acc: string) => invoice((await closedSeptember(h, acc, `cus_${acc}`)).id);
const eur = (amount: string) => ({ amount, currency: 'EUR' });
const plus = (a: string, b: string) => dec(a).plus(b).toFixed(2);
const held = async (bankTransactionId: string, amount: string, currency = 'EUR') =>
  (await as(AGENT, RECEIVE, { i: { bankTransactionId, reference: `two months ${bankTransactionId}`, amount: { amount, currency }, payerName: 'M. Twomonths', receivedAt: '2026-09-30T09:00:00Z' } })).receiveBankTransfer.unappliedPayment;
const apply = (unappliedPaymentId: string, invoiceId: string, idempotencyKey: string, amount?: string) => ({ unappliedPaymentId, invoiceId, idempotencyKey, ...(amount ? { amount: eur(amount) } : {}) });
const refund = (unappliedPaymentId: string, idempotencyKey: string, amount?: string) => ({ unappliedPaymentId, payoutReference: `PAYOUT-${idempotencyKey}`, note: 'Paid twice by mistake; the excess sent back', idempotencyKey, ...(amount ? { amount: eur(amount) } : {}) });
const count = async (text: string, params: unknown[] = []) => Number((await db().execute(text, params))[0].n);
const paymentsOfLine = (id: string) => count("select count(*) as n from payment where idempotency_key like ? and channel = 'BANK_TRANSFER'", [`unapplied:${id}%`]);
const rowOf = async (id: string) => (await db().execute('select * from unapplied_payment where id = ?', [id]))[0];

describe('applyUnappliedPayment with an amount', () => {
  it('splits one line over two invoices: each apply is its own payment; the line goes PARTIALLY_APPLIED, then APPLIED', async () => {
    const a = await issued('acc_sp_two_a');
    const b = await issued('acc_sp_two_b');
    const row = await held('bt-sp-two', plus(a.total.amount, b.total.amount));
    const t1 = h.clock.now().toISOString();
    const first = (await as(AGENT, APPLY, { i: apply(row.id, a.id, 'sp-two-a', a.total.amount) })).applyUnappliedPayment;
    expect(first).toMatchObject({
      unappliedPayment: { status: 'PARTIALLY_APPLIED', remainingAmount: eur(dec(b.total.amount).toFixed(2)), appliedInvoiceId: a.id, appliedPaymentId: first.payment.id },
      payment: { invoiceId: a.id, amount: { amount: a.total.amount }, creditAmount: { amount: '0' } },
      invoice: { id: a.id, state: 'SETTLED' },
    });
    h.clock.advance(60_000);
    const t2 = h.clock.now().toISOString();
    // Without an amount: all that remains.
    const second = (await as(OTHER_AGENT, APPLY, { i: apply(row.id, b.id, 'sp-two-b') })).applyUnappliedPayment;
    expect(second).toMatchObject({
      unappliedPayment: { status: 'APPLIED', remainingAmount: eur('0.00'), appliedInvoiceId: b.id, appliedPaymentId: second.payment.id },
      payment: { invoiceId: b.id, amount: { amount: b.total.amount }, creditAmount: { amount: '0' } },
      invoice: { id: b.id, state: 'SETTLED' },
    });
    expect(second.payment.id).not.toBe(first.payment.id);
    expect(second.unappliedPayment.applications).toEqual([
      { invoiceId: a.id, paymentId: first.payment.id, amount: { amount: dec(a.total.amount).toFixed(2) }, appliedBy: 'agent-sina', appliedAt: t1 },
      { invoiceId: b.id, paymentId: second.payment.id, amount: { amount: dec(b.total.amount).toFixed(2) }, appliedBy: 'agent-tom', appliedAt: t2 },
    ]);
    expect(await paymentsOfLine(row.id)).toBe(2);
    expect(await credit('acc_sp_two_a')).toBe('0');
    expect(await credit('acc_sp_two_b')).toBe('0');
    // Nothing remains: another apply is refused, whichever invoice.
    expect(await refusal(AGENT, APPLY, { i: apply(row.id, b.id, 'sp-two-c') })).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_APPLIED', field: 'input.invoiceId' });
  });

  it('pays part of one invoice, and the rest of the line pays it further under another key', async () => {
    const inv = await issued('acc_sp_part');
    const row = await held('bt-sp-part', '10.00');
    const first = (await as(AGENT, APPLY, { i: apply(row.id, inv.id, 'sp-part-1', '4.00') })).applyUnappliedPayment;
    expect(first).toMatchObject({ unappliedPayment: { status: 'PARTIALLY_APPLIED', remainingAmount: eur('6.00') }, invoice: { state: 'PARTIALLY_PAID', amountPaid: { amount: '4' } } });
    const second = (await as(AGENT, APPLY, { i: apply(row.id, inv.id, 'sp-part-2') })).applyUnappliedPayment;
    expect(second).toMatchObject({ unappliedPayment: { status: 'APPLIED', remainingAmount: eur('0.00') }, payment: { amount: { amount: '6' } }, invoice: { amountPaid: { amount: '10' } } });
    expect(second.payment.id).not.toBe(first.payment.id);
    expect(await paymentsOfLine(row.id)).toBe(2);
  });

  it('an amount above what the invoice still owes: the rest is account credit, as for a whole line', async () => {
    const inv = await issued('acc_sp_over');
    const row = await held('bt-sp-over', '100.00');
    const part = plus(inv.total.amount, '5.00');
    const r = (await as(AGENT, APPLY, { i: apply(row.id, inv.id, 'sp-over-1', part) })).applyUnappliedPayment;
    expect(r).toMatchObject({ unappliedPayment: { status: 'PARTIALLY_APPLIED', remainingAmount: eur(dec('100').minus(part).toFixed(2)) }, payment: { amount: { amount: dec(part).toFixed() }, creditAmount: { amount: '5' } }, invoice: { state: 'SETTLED' } });
    expect(await credit('acc_sp_over')).toBe('5');
  });

  it('refuses more than remains, and bad amounts, naming the field; nothing changes', async () => {
    const inv = await issued('acc_sp_refuse');
    const row = await held('bt-sp-refuse', '10.00');
    expect(await refusal(AGENT, APPLY, { i: apply(row.id, inv.id, 'sp-refuse-1', '10.01') })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UNAPPLIED_PAYMENT_EXCEEDS_REMAINING', field: 'input.amount' });
    await as(AGENT, APPLY, { i: apply(row.id, inv.id, 'sp-refuse-2', '6.00') });
    expect(await refusal(AGENT, APPLY, { i: apply(row.id, inv.id, 'sp-refuse-3', '5.00') })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UNAPPLIED_PAYMENT_EXCEEDS_REMAINING', field: 'input.amount' });
    const cases: [Record<string, unknown>, string][] = [
      [apply(row.id, inv.id, 'sp-refuse-4', '0'), 'input.amount.amount'],
      [apply(row.id, inv.id, 'sp-refuse-5', '-1.00'), 'input.amount.amount'],
      [apply(row.id, inv.id, 'sp-refuse-6', '1.005'), 'input.amount.amount'],
      [{ ...apply(row.id, inv.id, 'sp-refuse-7'), amount: { amount: '1.00', currency: 'USD' } }, 'input.amount.currency'],
    ];
    for (const [i, field] of cases) {
      const r = await refusal(AGENT, APPLY, { i });
      expect({ code: r.code, field: r.field }, JSON.stringify(i)).toEqual({ code: 'BAD_USER_INPUT', field });
    }
    const stored = await rowOf(row.id);
    expect({ status: stored.status, remaining: dec(stored.remaining_amount).toFixed(2) }).toEqual({ status: 'PARTIALLY_APPLIED', remaining: '4.00' });
    expect(await paymentsOfLine(row.id)).toBe(1);
    expect((await invoice(inv.id)).amountPaid.amount).toBe('6');
  });

  it('applies at once that together ask for more than remains: exactly what fits is applied, the others are refused', async () => {
    const a = await issued('acc_sp_race_a');
    const b = await issued('acc_sp_race_b');
    const row = await held('bt-sp-race', '10.00');
    const answers = await Promise.all(
      ['1', '2', '3', '4'].map((n) => h.svc.request<any>(APPLY, { i: apply(row.id, Number(n) % 2 ? a.id : b.id, `sp-race-${n}`, '4.00') }, AGENT)),
    );
    const ok = answers.filter((r) => !r.errors?.length);
    expect(ok).toHaveLength(2);
    for (const r of answers.filter((x) => x.errors?.length)) expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UNAPPLIED_PAYMENT_EXCEEDS_REMAINING', field: 'input.amount' });
    const stored = await rowOf(row.id);
    expect({ status: stored.status, remaining: dec(stored.remaining_amount).toFixed(2) }).toEqual({ status: 'PARTIALLY_APPLIED', remaining: '2.00' });
    expect(await paymentsOfLine(row.id)).toBe(2);
    expect(dec((await invoice(a.id)).amountPaid.amount).plus((await invoice(b.id)).amountPaid.amount).toFixed(2)).toBe('8.00');
    expect(await count('select count(*) as n from unapplied_payment_application where unapplied_payment_id = ?', [row.id])).toBe(2);
  });

  it('a split apply retried with its key answers the same payment, even after the line was applied in full; the key with other input is CONFLICT', async () => {
    const a = await issued('acc_sp_retry_a');
    const b = await issued('acc_sp_retry_b');
    const row = await held('bt-sp-retry', '10.00');
    const first = (await as(AGENT, APPLY, { i: apply(row.id, a.id, 'sp-retry-1', '3.00') })).applyUnappliedPayment;
    const again = (await as(AGENT, APPLY, { i: apply(row.id, a.id, 'sp-retry-1', '3.00') })).applyUnappliedPayment;
    expect(again.payment.id).toBe(first.payment.id);
    expect(again.unappliedPayment).toMatchObject({ status: 'PARTIALLY_APPLIED', remainingAmount: eur('7.00') });
    await as(AGENT, APPLY, { i: apply(row.id, b.id, 'sp-retry-2') });
    const late = (await as(AGENT, APPLY, { i: apply(row.id, a.id, 'sp-retry-1', '3.00') })).applyUnappliedPayment;
    expect(late).toMatchObject({ payment: { id: first.payment.id, amount: { amount: '3' } }, unappliedPayment: { status: 'APPLIED', remainingAmount: eur('0.00') } });
    for (const other of [apply(row.id, a.id, 'sp-retry-1', '2.00'), apply(row.id, b.id, 'sp-retry-1', '3.00'), apply(row.id, a.id, 'sp-retry-1')]) {
      expect(await refusal(AGENT, APPLY, { i: other }), JSON.stringify(other)).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    }
    expect(await paymentsOfLine(row.id)).toBe(2);
    expect((await invoice(a.id)).amountPaid.amount).toBe('3');
    expect((await invoice(b.id)).amountPaid.amount).toBe('7');
  });
});

describe('refundUnappliedPayment with an amount', () => {
  it('pays back part of a line (the rest stays unapplied, event with the amount), then the rest is applied', async () => {
    const inv = await issued('acc_sp_refund');
    const row = await held('bt-sp-refund', '30.00');
    const refunded = (await as(AGENT, REFUND, { i: refund(row.id, 'sp-refund-1', '12.00') })).refundUnappliedPayment.unappliedPayment;
    expect(refunded).toMatchObject({ status: 'UNAPPLIED', remainingAmount: eur('18.00'), payoutReference: 'PAYOUT-sp-refund-1', refunds: [{ amount: { amount: '12.00' }, payoutReference: 'PAYOUT-sp-refund-1', refundedBy: 'agent-sina' }] });
    const events = (await outbox('billing.invoicing.payment.unappliedrefunded')).filter((e: any) => e.data.unappliedPaymentId === row.id);
    expect(events).toHaveLength(1);
    expect(events[0].data).toMatchObject({ amount: '12.00', remainingAmount: '18.00', currency: 'EUR', payoutReference: 'PAYOUT-sp-refund-1' });
    // The same refund again answers as it is; more than remains is refused.
    expect((await as(AGENT, REFUND, { i: refund(row.id, 'sp-refund-1', '12.00') })).refundUnappliedPayment.unappliedPayment).toEqual(refunded);
    expect(await refusal(AGENT, REFUND, { i: refund(row.id, 'sp-refund-2', '18.01') })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UNAPPLIED_PAYMENT_EXCEEDS_REMAINING', field: 'input.amount' });
    const applied = (await as(AGENT, APPLY, { i: apply(row.id, inv.id, 'sp-refund-apply') })).applyUnappliedPayment;
    expect(applied).toMatchObject({ unappliedPayment: { status: 'APPLIED', remainingAmount: eur('0.00') }, payment: { amount: { amount: '18' } } });
    expect(await refusal(AGENT, REFUND, { i: refund(row.id, 'sp-refund-3') })).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_APPLIED', field: 'input.unappliedPaymentId' });
    expect((await outbox('billing.invoicing.payment.unappliedrefunded')).filter((e: any) => e.data.unappliedPaymentId === row.id)).toHaveLength(1);
  });

  it('is REFUNDED only once nothing remains: part applied, the rest paid back', async () => {
    const inv = await issued('acc_sp_refund_rest');
    const row = await held('bt-sp-refund-rest', '20.00');
    await as(AGENT, APPLY, { i: apply(row.id, inv.id, 'sp-refund-rest-apply', '15.00') });
    const r = (await as(AGENT, REFUND, { i: refund(row.id, 'sp-refund-rest') })).refundUnappliedPayment.unappliedPayment;
    expect(r).toMatchObject({ status: 'REFUNDED', remainingAmount: eur('0.00'), refunds: [{ amount: { amount: '5.00' } }], applications: [{ invoiceId: inv.id, amount: { amount: '15.00' } }] });
    const events = (await outbox('billing.invoicing.payment.unappliedrefunded')).filter((e: any) => e.data.unappliedPaymentId === row.id);
    expect(events.map((e: any) => [e.data.amount, e.data.remainingAmount])).toEqual([['5.00', '0.00']]);
    expect(await refusal(AGENT, APPLY, { i: apply(row.id, inv.id, 'sp-refund-rest-2') })).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_REFUNDED' });
  });
});

describe('receiveBankTransfer of a line applied in part since', () => {
  it('answers PARTIALLY_APPLIED with the row (what remains, the applies), nothing new', async () => {
    const inv = await issued('acc_sp_again');
    const i = { bankTransactionId: 'bt-sp-again', reference: 'no invoice named', amount: eur('10.00'), payerName: 'P. Partial', receivedAt: '2026-09-30T09:00:00Z' };
    const first = (await as(AGENT, RECEIVE, { i })).receiveBankTransfer;
    const applied = (await as(AGENT, APPLY, { i: apply(first.unappliedPayment.id, inv.id, 'sp-again', '4.00') })).applyUnappliedPayment;
    const stored = async () => [await count('select count(*) as n from unapplied_payment'), await count('select count(*) as n from payment'), await count('select count(*) as n from outbox')];
    const before = await stored();
    const again = (await as(AGENT, RECEIVE, { i })).receiveBankTransfer;
    expect(again).toMatchObject({
      outcome: 'PARTIALLY_APPLIED',
      payment: null,
      invoice: null,
      unappliedPayment: { id: first.unappliedPayment.id, status: 'PARTIALLY_APPLIED', remainingAmount: eur('6.00'), applications: [{ invoiceId: inv.id, paymentId: applied.payment.id, amount: { amount: '4.00' } }] },
    });
    expect(await stored()).toEqual(before);
  });
});

describe('the unapplied gauges', () => {
  it('count what remains of each line, not its original amount', async () => {
    const metric = async (name: string) => (await scrapeMetrics(h.svc))[`${name}{currency="GBP"}`];
    const row = await held('bt-sp-gauge', '50.00', 'GBP');
    expect(await metric('ledgerline_invoicing_unapplied_payments_amount')).toBe(50);
    await as(AGENT, REFUND, { i: { ...refund(row.id, 'sp-gauge-1'), amount: { amount: '20.00', currency: 'GBP' } } });
    expect(await metric('ledgerline_invoicing_unapplied_payments')).toBe(1);
    expect(await metric('ledgerline_invoicing_unapplied_payments_amount')).toBe(30);
    // A line applied in part still waits for the rest: counted, with what remains.
    const eurBefore = (await scrapeMetrics(h.svc))['ledgerline_invoicing_unapplied_payments_amount{currency="EUR"}'] ?? 0;
    const countBefore = (await scrapeMetrics(h.svc))['ledgerline_invoicing_unapplied_payments{currency="EUR"}'] ?? 0;
    const inv = await issued('acc_sp_gauge');
    const eurRow = await held('bt-sp-gauge-eur', '10.00');
    await as(AGENT, APPLY, { i: apply(eurRow.id, inv.id, 'sp-gauge-apply', '4.00') });
    const after = await scrapeMetrics(h.svc);
    expect(after['ledgerline_invoicing_unapplied_payments{currency="EUR"}']).toBe(countBefore + 1);
    expect(after['ledgerline_invoicing_unapplied_payments_amount{currency="EUR"}']).toBeCloseTo(eurBefore + 6, 6);
    await as(AGENT, REFUND, { i: { ...refund(row.id, 'sp-gauge-2'), amount: { amount: '30.00', currency: 'GBP' } } });
    expect(await metric('ledgerline_invoicing_unapplied_payments')).toBe(0);
    expect(await metric('ledgerline_invoicing_unapplied_payments_amount')).toBe(0);
  });
});
