// Bank statement lines that name no invoice (or more than one) must not be lost. recordPayment refuses
// such a BANK_TRANSFER (PAYMENT_REFERENCE_UNMATCHED / _AMBIGUOUS) and stores nothing: the money has
// arrived at the bank, but invoicing knows of it nowhere.
// Correct: receiveBankTransfer takes the statement line (idempotent by bankTransactionId): matched to
// one invoice it pays it as recordPayment does; unmatched or ambiguous it is kept as an unapplied
// payment (listed for staff, with the candidates of an ambiguous reference), which staff apply to the
// right invoice (once, under the row's lock; to another invoice afterwards: CONFLICT).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetrics } from '@ledgerline/platform';
import { requestHash } from '../src/application/sql';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const { as, refusal, db, outbox, credit } = disputeCalls(() => h);
const AGENT = agent('agent-bea');

const ROW = 'id bankTransactionId amount { amount currency } reference payerName receivedAt status reasonCode candidateInvoiceIds appliedInvoiceId appliedPaymentId appliedBy appliedAt';
const RECEIVE = `mutation($i: ReceiveBankTransferInput!) { receiveBankTransfer(input: $i) { outcome payment { id invoiceId channel amount { amount } } invoice { id state amountPaid { amount } } unappliedPayment { ${ROW} } } }`;
const APPLY = `mutation($i: ApplyUnappliedPaymentInput!) { applyUnappliedPayment(input: $i) { unappliedPayment { ${ROW} } payment { id invoiceId channel amount { amount } creditAmount { amount } } invoice { id state amountPaid { amount } amountDue { amount } } } }`;
const LIST = `query($s: UnappliedPaymentStatus, $first: Int, $after: String) { unappliedPayments(filter: { status: $s }, first: $first, after: $after) { edges { node { ${ROW} } cursor } pageInfo { hasNextPage endCursor } } }`;
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state paymentReference total { amount } amountPaid { amount } amountDue { amount } payments { id channel } } }';

const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const issued = async (acc: string) => invoice((await closedSeptember(h, acc, `cus_${acc}`)).id);
const line = (bankTransactionId: string, reference: string, amount = '10.00', extra: Record<string, unknown> = {}) => ({ bankTransactionId, reference, amount: { amount, currency: 'EUR' }, ...extra });
const receive = async (i: Record<string, unknown>) => (await as(AGENT, RECEIVE, { i })).receiveBankTransfer;
const count = async (text: string, params: unknown[]) => Number((await db().execute(text, params))[0].n);
const unappliedRows = (bankTransactionId: string) => count('select count(*) as n from unapplied_payment where bank_transaction_id = ?', [bankTransactionId]);
const paymentsOn = (invoiceId: string) => count("select count(*) as n from payment where invoice_id = ? and channel = 'BANK_TRANSFER'", [invoiceId]);

describe('receiveBankTransfer: a bank statement line', () => {
  it('matched to one invoice pays it as recordPayment does; imported twice it pays once', async () => {
    const inv = await issued('acc_ua_match');
    const first = await receive(line('bt-match-1', `Payment ${inv.paymentReference} thanks`, inv.total.amount, { payerName: 'Olga Example', receivedAt: '2026-09-30T15:00:00Z' }));
    expect(first).toMatchObject({ outcome: 'APPLIED', payment: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount: inv.total.amount } }, invoice: { id: inv.id, state: 'SETTLED' }, unappliedPayment: null });
    const again = await receive(line('bt-match-1', `Payment ${inv.paymentReference} thanks`, inv.total.amount, { payerName: 'Olga Example', receivedAt: '2026-09-30T15:00:00Z' }));
    expect(again).toMatchObject({ outcome: 'APPLIED', payment: { id: first.payment.id } });
    expect(await paymentsOn(inv.id)).toBe(1);
    expect((await invoice(inv.id)).amountPaid.amount).toBe(inv.total.amount);
    expect(await unappliedRows('bt-match-1')).toBe(0);
    expect((await outbox('billing.invoicing.payment.created')).filter((e: any) => e.data.paymentId === first.payment.id)).toHaveLength(1);
  });

  it('matched and paid, received again with another payer or date is CONFLICT IDEMPOTENCY_KEY_REUSED, nothing new; the same line again APPLIED', async () => {
    // The line's payment was looked up by its key and the payment's own request (reference, amount): a payer or
    // date it does not hold were not compared, so another line under the same bank transaction id was answered
    // APPLIED as if it were the one paid, where an unmatched line kept on the suspense list is refused.
    const inv = await issued('acc_ua_match_other');
    const i = line('bt-match-other', `Payment ${inv.paymentReference}`, inv.total.amount, { payerName: 'Olga Example', receivedAt: '2026-09-30T15:00:00Z' });
    const first = await receive(i);
    expect(first).toMatchObject({ outcome: 'APPLIED', payment: { invoiceId: inv.id } });
    const before = { payments: await paymentsOn(inv.id), outbox: (await outbox('billing.invoicing.payment.created')).length };
    const reused = { code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.bankTransactionId' };
    expect(await refusal(AGENT, RECEIVE, { i: { ...i, payerName: 'Someone Else' } }), 'another payer').toMatchObject(reused);
    expect(await refusal(AGENT, RECEIVE, { i: { ...i, payerName: null } }), 'no payer').toMatchObject(reused);
    expect(await refusal(AGENT, RECEIVE, { i: { ...i, receivedAt: '2026-09-29T15:00:00Z' } }), 'another date').toMatchObject(reused);
    expect(await refusal(AGENT, RECEIVE, { i: { ...i, reference: `Paid ${inv.paymentReference}` } }), 'another text').toMatchObject(reused);
    expect(await receive(i), 'the same line again').toMatchObject({ outcome: 'APPLIED', payment: { id: first.payment.id } });
    expect({ payments: await paymentsOn(inv.id), outbox: (await outbox('billing.invoicing.payment.created')).length }).toEqual(before);
    expect(await unappliedRows('bt-match-other')).toBe(0);
  });

  it('paid before its payer and date were kept: the same reference and amount again stay APPLIED', async () => {
    const inv = await issued('acc_ua_match_legacy');
    const i = line('bt-match-legacy', `Payment ${inv.paymentReference}`, inv.total.amount, { payerName: 'Olga Example' });
    const first = await receive(i);
    // The payment's request as it was hashed before the line's own hash was part of it.
    const legacy = requestHash({ reference: i.reference, channel: 'BANK_TRANSFER', amount: { amount: inv.total.amount, currency: 'EUR' }, idempotencyKey: 'bank-transfer:bt-match-legacy', allowOverpayment: true });
    await db().execute('update payment set request_hash = ? where id = ?', [legacy, first.payment.id]);
    expect(await receive(i)).toMatchObject({ outcome: 'APPLIED', payment: { id: first.payment.id } });
    expect(await receive({ ...i, payerName: 'O. Example' }), 'its payer was never kept to compare').toMatchObject({ outcome: 'APPLIED', payment: { id: first.payment.id } });
    expect(await refusal(AGENT, RECEIVE, { i: { ...i, amount: { amount: '1.00', currency: 'EUR' } } })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await paymentsOn(inv.id)).toBe(1);
  });

  it('unmatched is kept as an unapplied payment, listed for staff, once however often it is imported', async () => {
    const i = line('bt-none-1', 'rent march flat 4', '42.10', { payerName: 'A. Nobody', receivedAt: '2026-09-30T10:00:00Z' });
    const first = await receive(i);
    expect(first).toMatchObject({
      outcome: 'UNAPPLIED',
      payment: null,
      invoice: null,
      unappliedPayment: { bankTransactionId: 'bt-none-1', amount: { amount: '42.10', currency: 'EUR' }, reference: 'rent march flat 4', payerName: 'A. Nobody', receivedAt: '2026-09-30T10:00:00.000Z', status: 'UNAPPLIED', reasonCode: 'PAYMENT_REFERENCE_UNMATCHED', candidateInvoiceIds: [], appliedInvoiceId: null },
    });
    expect((await receive(i)).unappliedPayment.id).toBe(first.unappliedPayment.id);
    expect(await unappliedRows('bt-none-1')).toBe(1);
    const listed = (await as(AGENT, LIST, { s: 'UNAPPLIED' })).unappliedPayments.edges.map((e: any) => e.node.id);
    expect(listed).toContain(first.unappliedPayment.id);
    expect((await as(AGENT, LIST, { s: 'APPLIED' })).unappliedPayments.edges.map((e: any) => e.node.id)).not.toContain(first.unappliedPayment.id);
    // The same bank transaction with another amount is not the same line: refused, nothing changed.
    expect(await refusal(AGENT, RECEIVE, { i: { ...i, amount: { amount: '42.11', currency: 'EUR' } } })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.bankTransactionId' });
    expect(await unappliedRows('bt-none-1')).toBe(1);
    // Partners hear of it.
    expect((await outbox('billing.invoicing.payment.unapplied')).filter((e: any) => e.data.unappliedPaymentId === first.unappliedPayment.id)).toHaveLength(1);
  });

  it('ambiguous is kept with the invoices its reference names', async () => {
    const a = await issued('acc_ua_amb_a');
    const b = await issued('acc_ua_amb_b');
    const r = await receive(line('bt-amb-1', `${a.paymentReference} and ${b.paymentReference}`, '5.00'));
    expect(r).toMatchObject({ outcome: 'UNAPPLIED', unappliedPayment: { status: 'UNAPPLIED', reasonCode: 'PAYMENT_REFERENCE_AMBIGUOUS' } });
    expect([...r.unappliedPayment.candidateInvoiceIds].sort()).toEqual([a.id, b.id].sort());
    for (const inv of [a, b]) expect((await invoice(inv.id)).amountPaid.amount).toBe('0');
  });

  it('naming an invoice that cannot take it (another currency) is kept with that invoice as candidate; applying it there is refused and it stays', async () => {
    const inv = await issued('acc_ua_usd');
    const r = await receive({ ...line('bt-usd-1', inv.paymentReference, '10.00'), amount: { amount: '10.00', currency: 'USD' } });
    expect(r).toMatchObject({ outcome: 'UNAPPLIED', unappliedPayment: { reasonCode: 'PAYMENT_CURRENCY_MISMATCH', candidateInvoiceIds: [inv.id], amount: { amount: '10.00', currency: 'USD' } } });
    expect(await refusal(AGENT, APPLY, { i: { unappliedPaymentId: r.unappliedPayment.id, invoiceId: inv.id, idempotencyKey: 'usd-1' } })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PAYMENT_CURRENCY_MISMATCH' });
    expect((await as(AGENT, LIST, { s: 'UNAPPLIED' })).unappliedPayments.edges.map((e: any) => e.node.id)).toContain(r.unappliedPayment.id);
    expect(await paymentsOn(inv.id)).toBe(0);
  });

  it('a statement text longer than a payment reference column still pays (the payment keeps its first 80 characters)', async () => {
    const inv = await issued('acc_ua_long');
    const text = `SEPA CT ${inv.paymentReference} ${'remittance information '.repeat(6)}`.slice(0, 140);
    const r = await receive(line('bt-long-1', text, '1.00'));
    expect(r).toMatchObject({ outcome: 'APPLIED', payment: { invoiceId: inv.id } });
    expect((await db().execute('select reference from payment where id = ?', [r.payment.id]))[0].reference).toBe(text.slice(0, 80));
  });

  it('pages the list newest first', async () => {
    for (const n of [1, 2, 3]) {
      h.clock.advance(1_000);
      await receive(line(`bt-page-${n}`, `nothing ${n}`, '1.00'));
    }
    const p1 = (await as(AGENT, LIST, { s: 'UNAPPLIED', first: 2 })).unappliedPayments;
    expect(p1.edges.map((e: any) => e.node.bankTransactionId)).toEqual(['bt-page-3', 'bt-page-2']);
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = (await as(AGENT, LIST, { s: 'UNAPPLIED', first: 2, after: p1.pageInfo.endCursor })).unappliedPayments;
    expect(p2.edges[0].node.bankTransactionId).toBe('bt-page-1');
  });
});

describe('applyUnappliedPayment', () => {
  // Since applies may take part of a line (test/unapplied-payment-split.test.ts), an apply is known by
  // its key: the same key answers as it is; another key finds nothing left (CONFLICT), whichever invoice.
  it('pays the invoice staff name, marks the row APPLIED with who and when; again with its key answers as it is, another apply is CONFLICT', async () => {
    const inv = await issued('acc_ua_apply');
    const other = await issued('acc_ua_apply_other');
    const held = (await receive(line('bt-apply-1', 'customer 4711 september', inv.total.amount))).unappliedPayment;
    h.clock.advance(3_600_000);
    const appliedAt = h.clock.now().toISOString();
    const applied = (await as(AGENT, APPLY, { i: { unappliedPaymentId: held.id, invoiceId: inv.id, idempotencyKey: 'apply-1' } })).applyUnappliedPayment;
    expect(applied).toMatchObject({
      unappliedPayment: { id: held.id, status: 'APPLIED', appliedInvoiceId: inv.id, appliedPaymentId: applied.payment.id, appliedBy: 'agent-bea', appliedAt },
      payment: { invoiceId: inv.id, channel: 'BANK_TRANSFER', amount: { amount: inv.total.amount } },
      invoice: { id: inv.id, state: 'SETTLED', amountDue: { amount: '0' } },
    });
    expect((await outbox('billing.invoicing.payment.created')).filter((e: any) => e.data.paymentId === applied.payment.id)).toHaveLength(1);
    const again = (await as(AGENT, APPLY, { i: { unappliedPaymentId: held.id, invoiceId: inv.id, idempotencyKey: 'apply-1' } })).applyUnappliedPayment;
    expect(again.payment.id).toBe(applied.payment.id);
    expect(await refusal(AGENT, APPLY, { i: { unappliedPaymentId: held.id, invoiceId: inv.id, idempotencyKey: 'apply-1-retry' } })).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_APPLIED', field: 'input.invoiceId' });
    expect(await paymentsOn(inv.id)).toBe(1);
    expect(await refusal(AGENT, APPLY, { i: { unappliedPaymentId: held.id, invoiceId: other.id, idempotencyKey: 'apply-1-other' } })).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_APPLIED', field: 'input.invoiceId' });
    expect(await paymentsOn(other.id)).toBe(0);
    expect((await as(AGENT, LIST, { s: 'APPLIED' })).unappliedPayments.edges.map((e: any) => e.node.id)).toContain(held.id);
  });

  it('two applies at once pay once', async () => {
    const inv = await issued('acc_ua_race');
    const held = (await receive(line('bt-race-1', 'no reference', '20.00'))).unappliedPayment;
    const answers = await Promise.all(['race-a', 'race-b', 'race-c'].map((k) => h.svc.request<any>(APPLY, { i: { unappliedPaymentId: held.id, invoiceId: inv.id, idempotencyKey: k } }, AGENT)));
    expect(answers.filter((a) => !a.errors?.length)).toHaveLength(1);
    for (const a of answers.filter((x) => x.errors?.length)) expect(a.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_APPLIED' });
    expect(await paymentsOn(inv.id)).toBe(1);
    expect((await invoice(inv.id)).amountPaid.amount).toBe('20');
  });

  it('keeps what is above the amount due as account credit, as recordPayment does', async () => {
    const inv = await issued('acc_ua_over');
    const amount = (Number(inv.total.amount) + 15).toFixed(2); // a fixture string, not money arithmetic in the code
    const held = (await receive(line('bt-over-1', 'thanks', amount))).unappliedPayment;
    const r = (await as(AGENT, APPLY, { i: { unappliedPaymentId: held.id, invoiceId: inv.id, idempotencyKey: 'over-1' } })).applyUnappliedPayment;
    expect(r).toMatchObject({ payment: { creditAmount: { amount: '15' } }, invoice: { state: 'SETTLED' } });
    expect(await credit('acc_ua_over')).toBe('15');
  });

  it('an unknown row is NOT_FOUND; an idempotency key used for another row is CONFLICT', async () => {
    const inv = await issued('acc_ua_keys');
    expect(await refusal(AGENT, APPLY, { i: { unappliedPaymentId: 'upay_missing', invoiceId: inv.id, idempotencyKey: 'k-missing' } })).toMatchObject({ code: 'NOT_FOUND', field: 'input.unappliedPaymentId' });
    const one = (await receive(line('bt-keys-1', 'x', '1.00'))).unappliedPayment;
    const two = (await receive(line('bt-keys-2', 'y', '1.00'))).unappliedPayment;
    await as(AGENT, APPLY, { i: { unappliedPaymentId: one.id, invoiceId: inv.id, idempotencyKey: 'k-shared' } });
    expect(await refusal(AGENT, APPLY, { i: { unappliedPaymentId: two.id, invoiceId: inv.id, idempotencyKey: 'k-shared' } })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    expect((await as(AGENT, LIST, { s: 'UNAPPLIED' })).unappliedPayments.edges.map((e: any) => e.node.id)).toContain(two.id);
  });
});

describe('who and what', () => {
  it('refuses customers: the suspense list is staff work', async () => {
    const inv = await issued('acc_ua_cust');
    const held = (await receive(line('bt-cust-1', 'z', '1.00'))).unappliedPayment;
    const cus = customer('cus_acc_ua_cust');
    expect((await refusal(cus, RECEIVE, { i: line('bt-cust-2', inv.paymentReference, '1.00') })).code).toBe('FORBIDDEN');
    expect((await refusal(cus, LIST, { s: 'UNAPPLIED' })).code).toBe('FORBIDDEN');
    expect((await refusal(cus, APPLY, { i: { unappliedPaymentId: held.id, invoiceId: inv.id, idempotencyKey: 'cus-1' } })).code).toBe('FORBIDDEN');
    expect(await unappliedRows('bt-cust-2')).toBe(0);
    expect(await paymentsOn(inv.id)).toBe(0);
  });

  it('refuses bad statement lines naming the field, and stores nothing', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [line('bt-bad-zero', 'r', '0'), 'input.amount.amount'],
      [line('bt-bad-neg', 'r', '-5.00'), 'input.amount.amount'],
      [line('bt-bad-scale', 'r', '1.005'), 'input.amount.amount'],
      [line('', 'r', '1.00'), 'input.bankTransactionId'],
      [line('   ', 'r', '1.00'), 'input.bankTransactionId'],
      [line('bt-bad-long'.padEnd(201, 'x'), 'r', '1.00'), 'input.bankTransactionId'],
    ];
    for (const [i, field] of cases) {
      const r = await refusal(AGENT, RECEIVE, { i });
      expect({ code: r.code, field: r.field }, JSON.stringify(i)).toEqual({ code: 'BAD_USER_INPUT', field });
    }
    // An unknown currency is refused by the CurrencyCode scalar already (BAD_USER_INPUT, before the resolver).
    expect((await refusal(AGENT, RECEIVE, { i: { ...line('bt-bad-cur', 'r', '1.00'), amount: { amount: '1.00', currency: 'XXQ' } } })).code).toBe('BAD_USER_INPUT');
    expect(await count("select count(*) as n from unapplied_payment where bank_transaction_id like 'bt-bad%' or bank_transaction_id in ('', '   ')", [])).toBe(0);
    expect(await count("select count(*) as n from payment where idempotency_key like 'bank-transfer:bt-bad%'", [])).toBe(0);
  });
});

describe('unapplied payments on /metrics', () => {
  it('counts the rows still UNAPPLIED, by currency', async () => {
    const before = (await scrapeMetrics(h.svc))['ledgerline_invoicing_unapplied_payments{currency="EUR"}'] ?? 0;
    const held = (await receive(line('bt-metric-1', 'who knows', '3.00'))).unappliedPayment;
    expect((await scrapeMetrics(h.svc))['ledgerline_invoicing_unapplied_payments{currency="EUR"}']).toBe(before + 1);
    const inv = await issued('acc_ua_metric');
    await as(AGENT, APPLY, { i: { unappliedPaymentId: held.id, invoiceId: inv.id, idempotencyKey: 'metric-1' } });
    expect((await scrapeMetrics(h.svc))['ledgerline_invoicing_unapplied_payments{currency="EUR"}'] ?? 0).toBe(before);
  });
});
