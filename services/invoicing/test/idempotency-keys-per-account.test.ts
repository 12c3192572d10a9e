// Idempotency keys are the caller's, so they are per billing account (CONVENTIONS rule 5 within the
// caller's scope), as openDispute's already were. recordPayment, refundPayment, issueCreditNote (and
// their approval requests) and applyUnappliedPayment kept one key space for every account (a unique
// index on the key alone): a customer whose app keys its payments "pay-1" had their payment refused
// (CONFLICT IDEMPOTENCY_KEY_REUSED, nothing charged) because another customer had used "pay-1" first,
// and learnt that someone had; an agent's credit note or refund keyed like one on another account
// likewise. At the card provider the keys were one space too (the merchant account's): a second
// account's charge under the same key was refused there. refundUnappliedPayment (a suspense line has
// no account) kept one space for all lines.
// Correct: per account (the line, for an unapplied line's payout) — another account's key is another
// request with its own result; the same account retrying replays; the same account with other input
// is CONFLICT; concurrent retries on one account still make one payment; nobody is answered with
// another account's payment, refund, note or request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW, approvalLimits: { EUR: '5.00', '*': '0' } });
});
afterAll(async () => h?.svc.close());

const { as, refusal } = disputeCalls(() => h);
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-ida', scopes: [] };
const ANN = agent('agent-ann-ikpa');

const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id billingAccountId invoiceId amount { amount } providerRef } invoice { id amountPaid { amount } } } }';
const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id billingAccountId refundedAmount { amount } } refund { id paymentId amount { amount } } approvalRequest { id subjectId billingAccountId amount { amount } status } } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id invoiceId total { amount } } invoice { id amountCredited { amount } } approvalRequest { id subjectId billingAccountId amount { amount } status } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id amountPaid { amount } amountCredited { amount } lines { id } } }';
const ROW = 'id status remainingAmount { amount }';
const RECEIVE = `mutation($i: ReceiveBankTransferInput!) { receiveBankTransfer(input: $i) { outcome unappliedPayment { ${ROW} } } }`;
const APPLY = `mutation($i: ApplyUnappliedPaymentInput!) { applyUnappliedPayment(input: $i) { unappliedPayment { ${ROW} } payment { id billingAccountId invoiceId amount { amount } } } }`;
const REFUND_LINE = `mutation($i: RefundUnappliedPaymentInput!) { refundUnappliedPayment(input: $i) { unappliedPayment { ${ROW} payoutReference } } }`;

const card = (invoiceId: string, amount: string, idempotencyKey: string) => ({ i: { invoiceId, channel: 'CARD', paymentMethodToken: 'tok_visa', amount: { amount, currency: 'EUR' }, idempotencyKey } });
const invoice = async (id: string) => (await h.gql<any>(INVOICE, { id })).invoice;
const codeOf = (r: any) => (r.errors?.length ? `${String(r.errors[0].extensions?.code)} ${String(r.errors[0].extensions?.reason ?? r.errors[0].message)}` : 'ok');

/** Two accounts of two customers, each with its issued September invoice (about 35 EUR). */
async function twoAccounts(tag: string) {
  const a = await closedSeptember(h, `acc_${tag}_a`, `cus_${tag}_a`);
  const b = await closedSeptember(h, `acc_${tag}_b`, `cus_${tag}_b`);
  return { a: { acc: `acc_${tag}_a`, cus: customer(`cus_${tag}_a`), inv: a.id }, b: { acc: `acc_${tag}_b`, cus: customer(`cus_${tag}_b`), inv: b.id } };
}

describe('recordPayment: a key is the account’s', () => {
  it('two customers using the same key each pay their own invoice; a retry replays; other input on the same account is CONFLICT', async () => {
    const { a, b } = await twoAccounts('ikpa_pay');
    const chargesBefore = h.payments.charges.size;
    const payA = (await as(a.cus, PAY, card(a.inv, '10.00', 'pay-1'))).recordPayment;
    const r = await h.svc.request<any>(PAY, card(b.inv, '12.00', 'pay-1'), b.cus);
    expect(codeOf(r), 'customer B keyed like customer A').toBe('ok');
    const payB = r.data.recordPayment;
    expect(payB.payment).toMatchObject({ billingAccountId: b.acc, invoiceId: b.inv, amount: { amount: '12' } });
    expect(payB.payment.id).not.toBe(payA.payment.id);
    expect(payB.invoice).toEqual({ id: b.inv, amountPaid: { amount: '12' } });
    expect(h.payments.charges.size - chargesBefore, 'two captures at the provider').toBe(2);

    // Retries replay each account's own payment.
    expect((await as(a.cus, PAY, card(a.inv, '10.00', 'pay-1'))).recordPayment.payment.id).toBe(payA.payment.id);
    expect((await as(b.cus, PAY, card(b.inv, '12.00', 'pay-1'))).recordPayment.payment).toEqual(payB.payment);
    expect(h.payments.charges.size - chargesBefore, 'no capture again').toBe(2);
    // The key with other input on the same account: CONFLICT, nothing charged.
    expect(await refusal(a.cus, PAY, card(a.inv, '11.00', 'pay-1'))).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    expect(await refusal(ADMIN, PAY, { i: { invoiceId: b.inv, channel: 'BANK_TRANSFER', amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'pay-1' } })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(h.payments.charges.size - chargesBefore).toBe(2);
    expect((await invoice(a.inv)).amountPaid.amount).toBe('10');
    expect((await invoice(b.inv)).amountPaid.amount).toBe('12');
  });

  it('a customer sending another account’s request with its key gets no part of it', async () => {
    const { a, b } = await twoAccounts('ikpa_leak');
    const payA = (await as(a.cus, PAY, card(a.inv, '10.00', 'pay-1'))).recordPayment;
    // The same input as A's (A's invoice): as an unknown invoice, never A's payment.
    const r = await h.svc.request<any>(PAY, card(a.inv, '10.00', 'pay-1'), b.cus);
    expect(codeOf(r)).toMatch(/NOT_FOUND/);
    expect(JSON.stringify(r)).not.toContain(payA.payment.id);
    // Staff replaying A's request answer A's payment; B's own request with the key is B's.
    expect((await as(ADMIN, PAY, card(a.inv, '10.00', 'pay-1'))).recordPayment.payment.id).toBe(payA.payment.id);
    const own = (await as(b.cus, PAY, card(b.inv, '10.00', 'pay-1'))).recordPayment.payment;
    expect(own).toMatchObject({ billingAccountId: b.acc, invoiceId: b.inv });
    expect(own.id).not.toBe(payA.payment.id);
    expect(own.providerRef).not.toBe(payA.payment.providerRef);
  });

  it('the same key sent at once, four times on each of two accounts: one payment per account', async () => {
    const { a, b } = await twoAccounts('ikpa_race');
    const results = await Promise.all([...Array.from({ length: 4 }, () => h.svc.request<any>(PAY, card(a.inv, '10.00', 'race-1'), a.cus)), ...Array.from({ length: 4 }, () => h.svc.request<any>(PAY, card(b.inv, '10.00', 'race-1'), b.cus))]);
    const answers = results.map((r) => (r.errors?.length ? `error ${codeOf(r)}` : r.data.recordPayment.payment.id));
    expect(new Set(answers.slice(0, 4)).size, JSON.stringify(answers)).toBe(1);
    expect(new Set(answers.slice(4)).size, JSON.stringify(answers)).toBe(1);
    expect(answers[0]).toMatch(/^pay_/);
    expect(answers[4]).toMatch(/^pay_/);
    expect(answers[0]).not.toBe(answers[4]);
    expect((await invoice(a.inv)).amountPaid.amount).toBe('10');
    expect((await invoice(b.inv)).amountPaid.amount).toBe('10');
  });
});

describe('refundPayment and issueCreditNote: a key is the account’s', () => {
  it('refunds keyed alike on two accounts are two refunds (two at the provider); a retry replays; other input is CONFLICT', async () => {
    const { a, b } = await twoAccounts('ikpa_rf');
    const payA = (await as(a.cus, PAY, card(a.inv, '10.00', 'p-a'))).recordPayment.payment;
    const payB = (await as(b.cus, PAY, card(b.inv, '10.00', 'p-b'))).recordPayment.payment;
    const refundsBefore = h.payments.refunds.size;
    const rfA = (await as(ADMIN, REFUND, { i: { paymentId: payA.id, amount: { amount: '2.00', currency: 'EUR' }, idempotencyKey: 'rf-1' } })).refundPayment;
    const r = await h.svc.request<any>(REFUND, { i: { paymentId: payB.id, amount: { amount: '3.00', currency: 'EUR' }, idempotencyKey: 'rf-1' } }, ADMIN);
    expect(codeOf(r), 'a refund on B keyed like one on A').toBe('ok');
    const rfB = r.data.refundPayment;
    expect(rfB.refund).toMatchObject({ paymentId: payB.id, amount: { amount: '3.00' } });
    expect(rfB.refund.id).not.toBe(rfA.refund.id);
    expect(h.payments.refunds.size - refundsBefore, 'two refunds at the provider').toBe(2);
    expect((await as(ADMIN, REFUND, { i: { paymentId: payB.id, amount: { amount: '3.00', currency: 'EUR' }, idempotencyKey: 'rf-1' } })).refundPayment.refund.id).toBe(rfB.refund.id);
    expect(await refusal(ADMIN, REFUND, { i: { paymentId: payA.id, amount: { amount: '1.00', currency: 'EUR' }, idempotencyKey: 'rf-1' } })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(h.payments.refunds.size - refundsBefore).toBe(2);
  });

  it('credit notes keyed alike on two accounts are two notes; a retry replays; other input is CONFLICT', async () => {
    const { a, b } = await twoAccounts('ikpa_cn');
    const lineA = (await invoice(a.inv)).lines[0].id;
    const lineB = (await invoice(b.inv)).lines[0].id;
    const note = (inv: string, line: string, amount: string, key: string) => ({ i: { invoiceId: inv, kind: 'CREDIT', reason: 'Goodwill', lines: [{ invoiceLineId: line, amount }], idempotencyKey: key } });
    const cnA = (await as(ADMIN, ISSUE, note(a.inv, lineA, '1.00', 'cn-1'))).issueCreditNote;
    const r = await h.svc.request<any>(ISSUE, note(b.inv, lineB, '2.00', 'cn-1'), ADMIN);
    expect(codeOf(r), 'a note on B keyed like one on A').toBe('ok');
    expect(r.data.issueCreditNote.creditNote).toMatchObject({ invoiceId: b.inv, total: { amount: '2' } });
    expect(r.data.issueCreditNote.creditNote.id).not.toBe(cnA.creditNote.id);
    expect((await as(ADMIN, ISSUE, note(a.inv, lineA, '1.00', 'cn-1'))).issueCreditNote.creditNote.id).toBe(cnA.creditNote.id);
    expect(await refusal(ADMIN, ISSUE, note(a.inv, lineA, '1.50', 'cn-1'))).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await invoice(a.inv)).amountCredited.amount).toBe('1');
    expect((await invoice(b.inv)).amountCredited.amount).toBe('2');
  });

  it('an agent’s requests above the limit keyed alike on two accounts are two requests, each of its own account', async () => {
    const { a, b } = await twoAccounts('ikpa_apr');
    const lineA = (await invoice(a.inv)).lines[0].id;
    const lineB = (await invoice(b.inv)).lines[0].id;
    const note = (inv: string, line: string, key: string) => ({ i: { invoiceId: inv, kind: 'CREDIT', reason: 'Goodwill', lines: [{ invoiceLineId: line, amount: '6.00' }], idempotencyKey: key } });
    const reqA = (await as(ANN, ISSUE, note(a.inv, lineA, 'cn-big'))).issueCreditNote.approvalRequest;
    expect(reqA).toMatchObject({ subjectId: a.inv, billingAccountId: a.acc, status: 'PENDING' });
    const r = await h.svc.request<any>(ISSUE, note(b.inv, lineB, 'cn-big'), ANN);
    expect(codeOf(r), 'a request on B keyed like one on A').toBe('ok');
    const reqB = r.data.issueCreditNote.approvalRequest;
    expect(reqB).toMatchObject({ subjectId: b.inv, billingAccountId: b.acc, status: 'PENDING' });
    expect(reqB.id).not.toBe(reqA.id);
    expect((await as(ANN, ISSUE, note(b.inv, lineB, 'cn-big'))).issueCreditNote.approvalRequest.id).toBe(reqB.id);

    const payA = (await as(a.cus, PAY, card(a.inv, '10.00', 'p-a'))).recordPayment.payment;
    const payB = (await as(b.cus, PAY, card(b.inv, '10.00', 'p-b'))).recordPayment.payment;
    const refund = (paymentId: string) => ({ i: { paymentId, amount: { amount: '6.00', currency: 'EUR' }, idempotencyKey: 'rf-big' } });
    const rA = (await as(ANN, REFUND, refund(payA.id))).refundPayment.approvalRequest;
    const rB = (await as(ANN, REFUND, refund(payB.id))).refundPayment.approvalRequest;
    expect(rA).toMatchObject({ subjectId: payA.id, billingAccountId: a.acc, status: 'PENDING' });
    expect(rB).toMatchObject({ subjectId: payB.id, billingAccountId: b.acc, status: 'PENDING' });
  });
});

describe('unapplied payments: apply keys are the account’s, payout keys the line’s', () => {
  const held = async (bankTransactionId: string, amount: string) =>
    (await as(ADMIN, RECEIVE, { i: { bankTransactionId, reference: `no invoice here ${bankTransactionId}`, amount: { amount, currency: 'EUR' }, payerName: 'Somebody' } })).receiveBankTransfer.unappliedPayment;

  it('applies keyed alike to two accounts’ invoices are two applies; a retry replays; the key for another line of the same account is CONFLICT', async () => {
    const { a, b } = await twoAccounts('ikpa_ap');
    const one = await held('bt-ikpa-ap-1', '4.00');
    const two = await held('bt-ikpa-ap-2', '5.00');
    const apA = (await as(ADMIN, APPLY, { i: { unappliedPaymentId: one.id, invoiceId: a.inv, idempotencyKey: 'ap-1' } })).applyUnappliedPayment;
    const r = await h.svc.request<any>(APPLY, { i: { unappliedPaymentId: two.id, invoiceId: b.inv, idempotencyKey: 'ap-1' } }, ADMIN);
    expect(codeOf(r), 'an apply to B keyed like one to A').toBe('ok');
    expect(r.data.applyUnappliedPayment.payment).toMatchObject({ billingAccountId: b.acc, invoiceId: b.inv, amount: { amount: '5' } });
    expect((await as(ADMIN, APPLY, { i: { unappliedPaymentId: one.id, invoiceId: a.inv, idempotencyKey: 'ap-1' } })).applyUnappliedPayment.payment.id).toBe(apA.payment.id);
    const three = await held('bt-ikpa-ap-3', '1.00');
    expect(await refusal(ADMIN, APPLY, { i: { unappliedPaymentId: three.id, invoiceId: a.inv, idempotencyKey: 'ap-1' } })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await invoice(a.inv)).amountPaid.amount).toBe('4');
    expect((await invoice(b.inv)).amountPaid.amount).toBe('5');
  });

  it('payouts keyed alike on two lines are two payouts; a retry answers as it is; other input on the line is CONFLICT', async () => {
    const one = await held('bt-ikpa-rf-1', '4.00');
    const two = await held('bt-ikpa-rf-2', '5.00');
    const payout = (id: string, ref: string) => ({ i: { unappliedPaymentId: id, payoutReference: ref, note: 'Payer unknown', idempotencyKey: 'urf-1' } });
    expect((await as(ADMIN, REFUND_LINE, payout(one.id, 'OUT-1'))).refundUnappliedPayment.unappliedPayment).toMatchObject({ status: 'REFUNDED', payoutReference: 'OUT-1' });
    const r = await h.svc.request<any>(REFUND_LINE, payout(two.id, 'OUT-2'), ADMIN);
    expect(codeOf(r), 'a payout of line two keyed like one of line one').toBe('ok');
    expect(r.data.refundUnappliedPayment.unappliedPayment).toMatchObject({ id: two.id, status: 'REFUNDED', payoutReference: 'OUT-2' });
    expect((await as(ADMIN, REFUND_LINE, payout(two.id, 'OUT-2'))).refundUnappliedPayment.unappliedPayment).toMatchObject({ id: two.id, status: 'REFUNDED', payoutReference: 'OUT-2' });
    expect(await refusal(ADMIN, REFUND_LINE, payout(two.id, 'OUT-3'))).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
  });
});
