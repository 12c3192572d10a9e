// Money on the suspense list that nobody can identify (or that was sent by mistake) has to go back to
// its payer. The row status REFUNDED existed but nothing set it: such a row stayed UNAPPLIED for ever
// (counted by the gauges, listed as work to do) and could still be applied to an invoice after the
// bank had already paid it back — the same money twice.
// Correct: refundUnappliedPayment (staff) records the payout (its reference, why, who, when) and marks
// the row REFUNDED, once, under the row's lock: a refund and an apply at the same time do exactly one
// of them; an APPLIED row cannot be refunded, a REFUNDED one cannot be applied. The gauges count
// UNAPPLIED rows only, and tell how long the oldest has waited (alert LedgerlineUnappliedCashAging).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetrics } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { agent, closedSeptember, customer, disputeCalls, NO_DISPUTE_WORKFLOW } from './dispute-support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false, disputes: NO_DISPUTE_WORKFLOW });
});
afterAll(async () => h?.svc.close());

const { as, refusal, db, outbox } = disputeCalls(() => h);
const AGENT = agent('agent-rita');
const OTHER_AGENT = agent('agent-olaf');

const ROW = 'id status amount { amount currency } appliedInvoiceId appliedPaymentId refundedBy refundedAt payoutReference refundNote';
const RECEIVE = `mutation($i: ReceiveBankTransferInput!) { receiveBankTransfer(input: $i) { outcome unappliedPayment { ${ROW} } } }`;
const APPLY = `mutation($i: ApplyUnappliedPaymentInput!) { applyUnappliedPayment(input: $i) { unappliedPayment { ${ROW} } payment { id } } }`;
const REFUND = `mutation($i: RefundUnappliedPaymentInput!) { refundUnappliedPayment(input: $i) { unappliedPayment { ${ROW} } } }`;
const LIST = `query($s: UnappliedPaymentStatus) { unappliedPayments(filter: { status: $s }, first: 100) { edges { node { id } } } }`;

const held = async (bankTransactionId: string, amount = '25.00', currency = 'EUR', receivedAt?: string) =>
  (await as(AGENT, RECEIVE, { i: { bankTransactionId, reference: `no invoice here ${bankTransactionId}`, amount: { amount, currency }, payerName: 'Wrong Recipient GmbH', ...(receivedAt ? { receivedAt } : {}) } })).receiveBankTransfer.unappliedPayment;
const refund = (unappliedPaymentId: string, idempotencyKey: string, extra: Record<string, unknown> = {}) => ({ unappliedPaymentId, payoutReference: `PAYOUT-${idempotencyKey}`, note: 'Payer unknown; sent back to the ordering account', idempotencyKey, ...extra });
const rowOf = async (id: string) => (await db().execute('select * from unapplied_payment where id = ?', [id]))[0];
const refundEvents = async (id: string) => (await outbox('billing.invoicing.payment.unappliedrefunded')).filter((e: any) => e.data.unappliedPaymentId === id);
const count = async (text: string, params: unknown[]) => Number((await db().execute(text, params))[0].n);
const paymentsOn = (invoiceId: string) => count("select count(*) as n from payment where invoice_id = ? and channel = 'BANK_TRANSFER'", [invoiceId]);
const listed = async (status: string) => (await as(AGENT, LIST, { s: status })).unappliedPayments.edges.map((e: any) => e.node.id);
const issued = async (acc: string) => closedSeptember(h, acc, `cus_${acc}`);

describe('refundUnappliedPayment', () => {
  it('marks the row REFUNDED with who, when, the payout reference and the note; announces it once', async () => {
    const row = await held('bt-rf-1', '25.00');
    h.clock.advance(3_600_000);
    const at = h.clock.now().toISOString();
    const r = (await as(AGENT, REFUND, { i: refund(row.id, 'rf-1', { payoutReference: 'SEPA-OUT-2026-10-01-0042' }) })).refundUnappliedPayment.unappliedPayment;
    expect(r).toEqual({ id: row.id, status: 'REFUNDED', amount: { amount: '25.00', currency: 'EUR' }, appliedInvoiceId: null, appliedPaymentId: null, refundedBy: 'agent-rita', refundedAt: at, payoutReference: 'SEPA-OUT-2026-10-01-0042', refundNote: 'Payer unknown; sent back to the ordering account' });
    expect(await listed('REFUNDED')).toContain(row.id);
    expect(await listed('UNAPPLIED')).not.toContain(row.id);
    const events = await refundEvents(row.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'PaymentUnappliedRefundEvent', subject: row.id, data: { unappliedPaymentId: row.id, bankTransactionId: 'bt-rf-1', amount: '25.00', currency: 'EUR', payerName: 'Wrong Recipient GmbH', payoutReference: 'SEPA-OUT-2026-10-01-0042', refundedBy: 'agent-rita', refundedAt: at } });
    expect(events[0].data).not.toHaveProperty('note');
  });

  it('again with the same key answers as it is; the same payout under another key too; another payout is CONFLICT; the key with other content is CONFLICT', async () => {
    const row = await held('bt-rf-twice');
    const first = (await as(AGENT, REFUND, { i: refund(row.id, 'rf-twice') })).refundUnappliedPayment.unappliedPayment;
    h.clock.advance(60_000);
    expect((await as(AGENT, REFUND, { i: refund(row.id, 'rf-twice') })).refundUnappliedPayment.unappliedPayment).toEqual(first);
    // Someone else records the same payout again: it is the same refund.
    expect((await as(OTHER_AGENT, REFUND, { i: refund(row.id, 'rf-twice-olaf', { payoutReference: first.payoutReference, note: 'other words' }) })).refundUnappliedPayment.unappliedPayment).toEqual(first);
    expect(await refusal(AGENT, REFUND, { i: refund(row.id, 'rf-twice-2') })).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_REFUNDED', field: 'input.unappliedPaymentId' });
    expect(await refusal(AGENT, REFUND, { i: refund(row.id, 'rf-twice', { payoutReference: 'PAYOUT-other' }) })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    expect(await refusal(AGENT, REFUND, { i: refund(row.id, 'rf-twice', { note: 'another reason' }) })).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    const stored = await rowOf(row.id);
    expect({ by: stored.refunded_by, payout: stored.payout_reference, note: stored.refund_note, key: stored.refund_idempotency_key }).toEqual({ by: 'agent-rita', payout: first.payoutReference, note: first.refundNote, key: 'rf-twice' });
    expect(await refundEvents(row.id)).toHaveLength(1);
  });

  it('a key is the row’s: another row’s payout under it is another payout (a row belongs to no account; since 2027-01-20)', async () => {
    const one = await held('bt-rf-key-1');
    const two = await held('bt-rf-key-2');
    await as(AGENT, REFUND, { i: refund(one.id, 'rf-shared') });
    expect((await as(AGENT, REFUND, { i: refund(two.id, 'rf-shared', { payoutReference: 'PAYOUT-rf-shared-2' }) })).refundUnappliedPayment.unappliedPayment).toMatchObject({ id: two.id, status: 'REFUNDED', payoutReference: 'PAYOUT-rf-shared-2' });
    expect((await rowOf(one.id)).status).toBe('REFUNDED');
    expect(await refundEvents(two.id)).toHaveLength(1);
  });

  it('refuses an applied row: the money paid an invoice', async () => {
    const inv = await issued('acc_rf_applied');
    const row = await held('bt-rf-applied', '10.00');
    const applied = (await as(AGENT, APPLY, { i: { unappliedPaymentId: row.id, invoiceId: inv.id, idempotencyKey: 'rf-applied-apply' } })).applyUnappliedPayment;
    expect(await refusal(AGENT, REFUND, { i: refund(row.id, 'rf-applied') })).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_APPLIED', field: 'input.unappliedPaymentId' });
    const stored = await rowOf(row.id);
    expect({ status: stored.status, payment: stored.applied_payment_id, payout: stored.payout_reference, refundedAt: stored.refunded_at }).toEqual({ status: 'APPLIED', payment: applied.payment.id, payout: null, refundedAt: null });
    expect(await refundEvents(row.id)).toHaveLength(0);
  });

  it('applying a refunded row is refused: it pays nothing', async () => {
    const inv = await issued('acc_rf_then_apply');
    const row = await held('bt-rf-then-apply', '10.00');
    await as(AGENT, REFUND, { i: refund(row.id, 'rf-then-apply') });
    expect(await refusal(AGENT, APPLY, { i: { unappliedPaymentId: row.id, invoiceId: inv.id, idempotencyKey: 'rf-then-apply-apply' } })).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_REFUNDED', field: 'input.unappliedPaymentId' });
    expect(await paymentsOn(inv.id)).toBe(0);
    expect((await rowOf(row.id)).status).toBe('REFUNDED');
  });

  it('a refund and an apply at the same time: exactly one of them happens, the other is CONFLICT', async () => {
    const inv = await issued('acc_rf_race');
    const outcomes: string[] = [];
    for (const n of [1, 2, 3, 4]) {
      const row = await held(`bt-rf-race-${n}`, '1.00');
      const apply = () => h.svc.request<any>(APPLY, { i: { unappliedPaymentId: row.id, invoiceId: inv.id, idempotencyKey: `rf-race-apply-${n}` } }, AGENT);
      const refunded = () => h.svc.request<any>(REFUND, { i: refund(row.id, `rf-race-${n}`) }, OTHER_AGENT);
      // Started in both orders (odd: the apply first, even: the refund first).
      const [a, r] = n % 2 ? await Promise.all([apply(), refunded()]) : (await Promise.all([refunded(), apply()])).reverse();
      const stored = await rowOf(row.id);
      if (stored.status === 'APPLIED') {
        expect(a.errors ?? []).toEqual([]);
        expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_APPLIED' });
        expect(stored.payout_reference).toBeNull();
        expect(await refundEvents(row.id)).toHaveLength(0);
        expect(await count("select count(*) as n from payment where idempotency_key = ?", [`unapplied:${row.id}`])).toBe(1);
      } else {
        expect(stored.status).toBe('REFUNDED');
        expect(r.errors ?? []).toEqual([]);
        expect(a.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'UNAPPLIED_PAYMENT_ALREADY_REFUNDED' });
        expect(stored.applied_payment_id).toBeNull();
        expect(await refundEvents(row.id)).toHaveLength(1);
        expect(await count("select count(*) as n from payment where idempotency_key = ?", [`unapplied:${row.id}`])).toBe(0);
      }
      outcomes.push(stored.status);
    }
    expect(await paymentsOn(inv.id)).toBe(outcomes.filter((s) => s === 'APPLIED').length);
  });

  it('refuses customers, and changes nothing', async () => {
    const row = await held('bt-rf-cust');
    expect((await refusal(customer('cus_acc_rf_cust'), REFUND, { i: refund(row.id, 'rf-cust') })).code).toBe('FORBIDDEN');
    expect((await rowOf(row.id)).status).toBe('UNAPPLIED');
    expect(await refundEvents(row.id)).toHaveLength(0);
  });

  it('refuses bad input naming the field, and changes nothing', async () => {
    const row = await held('bt-rf-bad');
    const cases: [Record<string, unknown>, string][] = [
      [refund(row.id, 'rf-bad-1', { note: '' }), 'input.note'],
      [refund(row.id, 'rf-bad-2', { note: '   ' }), 'input.note'],
      [refund(row.id, 'rf-bad-3', { note: 'x'.repeat(1001) }), 'input.note'],
      [refund(row.id, 'rf-bad-4', { payoutReference: 'P'.repeat(121) }), 'input.payoutReference'],
      [refund(row.id, 'rf-bad-5', { payoutReference: '' }), 'input.payoutReference'],
      [refund(row.id, 'rf-bad-6', { payoutReference: '  ' }), 'input.payoutReference'],
      [refund(row.id, ''), 'input.idempotencyKey'],
      [refund(row.id, 'k'.repeat(201), { payoutReference: 'PAYOUT-long-key' }), 'input.idempotencyKey'],
    ];
    for (const [i, field] of cases) {
      const r = await refusal(AGENT, REFUND, { i });
      expect({ code: r.code, field: r.field }, JSON.stringify(i).slice(0, 120)).toEqual({ code: 'BAD_USER_INPUT', field });
    }
    expect(await refusal(AGENT, REFUND, { i: refund('upay_missing', 'rf-missing') })).toMatchObject({ code: 'NOT_FOUND', field: 'input.unappliedPaymentId' });
    const stored = await rowOf(row.id);
    expect({ status: stored.status, payout: stored.payout_reference, note: stored.refund_note, key: stored.refund_idempotency_key }).toEqual({ status: 'UNAPPLIED', payout: null, note: null, key: null });
    expect(await refundEvents(row.id)).toHaveLength(0);
    // A payout reference of exactly 120 characters is taken.
    const ok = (await as(AGENT, REFUND, { i: refund(row.id, 'rf-bad-ok', { payoutReference: 'P'.repeat(120) }) })).refundUnappliedPayment.unappliedPayment;
    expect(ok).toMatchObject({ status: 'REFUNDED', payoutReference: 'P'.repeat(120) });
  });
});

describe('the unapplied gauges', () => {
  it('count UNAPPLIED rows only and tell how long the oldest has waited: a refund takes it off', async () => {
    const metric = async (name: string) => (await scrapeMetrics(h.svc))[`${name}{currency="CHF"}`];
    const receivedAt = new Date(h.clock.now().getTime() - 20 * 86_400_000).toISOString();
    const row = await held('bt-rf-metric', '7.50', 'CHF', receivedAt);
    expect(await metric('ledgerline_invoicing_unapplied_payments')).toBe(1);
    expect(await metric('ledgerline_invoicing_unapplied_payments_amount')).toBe(7.5);
    expect(await metric('ledgerline_invoicing_unapplied_payments_oldest_seconds')).toBe(20 * 86_400);
    h.clock.advance(3_600_000);
    expect(await metric('ledgerline_invoicing_unapplied_payments_oldest_seconds')).toBe(20 * 86_400 + 3_600);
    await as(AGENT, REFUND, { i: refund(row.id, 'rf-metric') });
    expect(await metric('ledgerline_invoicing_unapplied_payments')).toBe(0);
    expect(await metric('ledgerline_invoicing_unapplied_payments_amount')).toBe(0);
    expect(await metric('ledgerline_invoicing_unapplied_payments_oldest_seconds')).toBe(0);
  });
});
