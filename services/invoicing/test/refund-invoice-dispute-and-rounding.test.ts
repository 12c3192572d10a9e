// Two gaps charge-given-back-once.test.ts left (2026-11-29, session 30).
//
// 1. A dispute of the whole invoice (naming no line or usage record) kept no room from a refund naming
//    one of its charges (addOneOffCharge refundsChargeId): while it was open the refund went out (only
//    disputes of the charge's own line were weighed), and the dispute's ACCEPT then found the room
//    gone (DISPUTE_CREDIT_EXCEEDS_CREDITABLE: the workflow's automatic accept waits for an agent, the
//    invoice stays held) or credited the invoice's other lines for money the refund had given back.
//    The rule now (domain/charge-refundable.ts, the one place): while disputes of an invoice are open,
//    a refund of a charge on it is at most what the invoice would still have if they were all upheld
//    in full — its total less its credit notes, less what was given back apart from it, less its open
//    disputes — as openDispute already weighs refunds against the invoice (DISPUTE_EXCEEDS_UNDISPUTED).
//    Both orderings and both at once (the refund's locks: credit, one-off id, invoice row; the
//    dispute's: the invoice row; lock-order.ts) are decided one after the other.
// 2. A refund was weighed by its share of the charge's line (rounded half up) until billed, then at
//    its own tax as billed: pieces could together bill more than the line. A 10.01 activation at 19 %
//    is 11.91; refunds of 2.50 and 2.50 are billed 2.98 each (0.475 of tax rounds half-even to 0.48)
//    but counted 2.97, so a third of 5.01 (5.96) was let through: 11.92 billed back for 11.91. Now
//    every refund counts as billed (its own line's gross, or one not billed yet as the bill will
//    show it: the line's tax rule and the account's rounding mode): one unit, gross cents as billed.
// Real PostgreSQL; POSTPAID_20GB (29.99 = 35.69 gross) at 19 %: with the 10.00 activation (11.90
// gross) the September invoice is 47.59.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { addOneOffCharge } from '../src/application/read-model';
import { openDispute } from '../src/application/disputes';
import { account, startHarness, subscribe, type Harness } from './support';
import { agent, disputeMutations } from './dispute-support';

let h: Harness;
const ADD = 'mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok waived } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } lines { id kind description grossAmount { amount } creditedAmount { amount } } } }';
const { OPEN, DECIDE } = disputeMutations('id status amount { amount } creditedAmount { amount }');
const SEPT = { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' };
const OCT = { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' };
const AGENT = agent('agent-rid');
const now = new Date('2026-11-02T08:00:00Z');

const charge = (acc: string, amount = '10.00') => ({ id: `oo_${acc}_act`, billingAccountId: acc, code: 'ACTIVATION', description: 'Activation', amount: { amount, currency: 'EUR' }, occurredAt: '2026-09-10T10:00:00Z' });
const refund = (acc: string, amount: string, n = 1) => ({
  id: `oo_${acc}_ref${n}`, billingAccountId: acc, code: 'REFUND', description: 'Activation refunded', amount: { amount, currency: 'EUR' }, occurredAt: '2026-10-05T10:00:00Z', refundsChargeId: `oo_${acc}_act`,
});

async function attempt(query: string, variables: Record<string, unknown>, caller?: any): Promise<{ ok: boolean; code?: string; reason?: string; field?: string; message?: string; data?: any }> {
  const r = await h.svc.request<any>(query, variables, caller);
  if (!r.errors?.length) return { ok: true, data: r.data };
  const ext = r.errors[0]!.extensions ?? {};
  return { ok: false, code: String(ext.code), reason: String(ext.reason), field: ext.field as string | undefined, message: r.errors[0]!.message };
}
const addRefund = (acc: string, amount: string, n?: number) => attempt(ADD, { i: refund(acc, amount, n) });
const openInvoiceDispute = (invoiceId: string, amount: string, key: string) => attempt(OPEN, { i: { invoiceId, amount, reason: 'This bill is wrong', idempotencyKey: key } });
const decide = (disputeId: string, decision: 'ACCEPT' | 'REJECT') => attempt(DECIDE, { i: { disputeId, decision, note: 'Looked at' } }, AGENT);

async function close(acc: string, period: { periodStart: string; periodEnd: string }): Promise<any> {
  const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', { i: { billingAccountId: acc, ...period } });
  return (await h.gql<any>(INVOICE, { id: r.closeBillingPeriod.billingPeriod.invoice.id })).invoice;
}
const refundLines = (inv: any) => inv.lines.filter((l: any) => l.kind === 'ONE_OFF' && l.description === 'Activation refunded').map((l: any) => dec(l.grossAmount.amount).toFixed(2));
const creditedTotal = (inv: any) => inv.lines.reduce((a: any, l: any) => a.plus(l.creditedAmount.amount), dec('0')).toFixed(2);

/** An account with the activation (10.00 unless said) billed on its issued September invoice. */
async function billed(acc: string, amount?: string): Promise<{ sept: any; line: any }> {
  await account(h, acc);
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql(ADD, { i: charge(acc, amount) });
  const sept = await close(acc, SEPT);
  return { sept, line: sept.lines.find((l: any) => l.description === 'Activation') };
}

beforeAll(async () => {
  h = await startHarness('2026-11-02T08:00:00Z', { consume: false });
});
afterAll(async () => h?.svc.close());

describe('an open dispute of the whole invoice holds its room from refunds of its charges', () => {
  it('disputed in full (47.59): a refund of the activation is refused while it is open, and the dispute upheld credits all of it; before, the refund passed and the ACCEPT was refused', async () => {
    const acc = 'acc_rid_full';
    const { sept, line } = await billed(acc);
    expect(sept.total.amount).toBe('47.59');
    const d = await openInvoiceDispute(sept.id, '47.59', 'rid-full');
    expect(d.ok).toBe(true);
    const r = await addRefund(acc, '-10.00');
    expect(r).toMatchObject({ ok: false, code: 'BAD_USER_INPUT', reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE', field: 'input.amount.amount' });
    expect(r.message).toContain('At most 0.00');
    expect(r.message).toContain('disput');
    expect(await addRefund(acc, '-0.01', 2)).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE' });
    expect(await decide(d.data.openDispute.dispute.id, 'ACCEPT')).toMatchObject({ ok: true });
    const after = (await h.gql<any>(INVOICE, { id: sept.id })).invoice;
    expect(creditedTotal(after)).toBe('47.59');
    expect(after.lines.find((l: any) => l.id === line.id).creditedAmount.amount).toBe('11.9');
    // Upheld in full, nothing is left to refund; nothing is billed back in October.
    expect(await addRefund(acc, '-10.00', 3)).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE' });
    expect(refundLines(await close(acc, OCT))).toEqual([]);
  });

  it('disputed 40.00 of 47.59: a refund is at most what upholding it would leave (7.59 gross, 6.38 of the charge); the dispute upheld still credits 40.00', async () => {
    const acc = 'acc_rid_part';
    const { sept } = await billed(acc);
    const d = await openInvoiceDispute(sept.id, '40.00', 'rid-part');
    expect(d.ok).toBe(true);
    const r = await addRefund(acc, '-10.00');
    expect(r).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE', field: 'input.amount.amount' });
    expect(r.message).toContain('At most 6.38');
    expect(await addRefund(acc, '-6.39', 2)).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE' });
    expect(await addRefund(acc, '-6.38', 3)).toMatchObject({ ok: true });
    expect(await decide(d.data.openDispute.dispute.id, 'ACCEPT')).toMatchObject({ ok: true });
    expect(creditedTotal((await h.gql<any>(INVOICE, { id: sept.id })).invoice)).toBe('40.00');
    // 40.00 credited + 7.59 billed back = 47.59, the invoice's total.
    expect(refundLines(await close(acc, OCT))).toEqual(['-7.59']);
  });

  it('rejected: its room is free again and the full refund passes', async () => {
    const acc = 'acc_rid_reject';
    const { sept } = await billed(acc);
    const d = await openInvoiceDispute(sept.id, '47.59', 'rid-rej');
    expect(await addRefund(acc, '-10.00')).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE' });
    expect(await decide(d.data.openDispute.dispute.id, 'REJECT')).toMatchObject({ ok: true });
    expect(await addRefund(acc, '-10.00', 2)).toMatchObject({ ok: true });
  });

  it('upheld first (40.00), then a refund: at most what is left of the invoice (6.38)', async () => {
    const acc = 'acc_rid_upheld_first';
    const { sept } = await billed(acc);
    const d = await openInvoiceDispute(sept.id, '40.00', 'rid-uf');
    expect(await decide(d.data.openDispute.dispute.id, 'ACCEPT')).toMatchObject({ ok: true });
    const r = await addRefund(acc, '-10.00');
    expect(r).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE' });
    expect(r.message).toContain('At most 6.38');
    expect(await addRefund(acc, '-6.38', 2)).toMatchObject({ ok: true });
    expect(refundLines(await close(acc, OCT))).toEqual(['-7.59']);
  });

  it('refunded first: the dispute of the whole invoice is at most what the refund left (35.69), and upheld credits it', async () => {
    const acc = 'acc_rid_refund_first';
    const { sept } = await billed(acc);
    expect(await addRefund(acc, '-10.00')).toMatchObject({ ok: true });
    expect(await openInvoiceDispute(sept.id, '47.59', 'rid-rf')).toMatchObject({ ok: false, reason: 'DISPUTE_EXCEEDS_UNDISPUTED', field: 'input.amount' });
    const d = await openInvoiceDispute(sept.id, '35.69', 'rid-rf2');
    expect(await decide(d.data.openDispute.dispute.id, 'ACCEPT')).toMatchObject({ ok: true });
  });
});

describe('a refund and a dispute of the whole invoice at once: one after the other', () => {
  const db = () => h.svc.runtime.orm.em.fork();

  it('a dispute that commits while the refund waits for it: the refund sees it and is refused (before: both went through)', async () => {
    const acc = 'acc_rid_race_dispute_held';
    const { sept } = await billed(acc);
    let locked!: () => void;
    const held = new Promise<void>((r) => (locked = r));
    const disputing = db().transactional(async (em) => {
      const r = await openDispute(em as any, { invoiceId: sept.id, amount: '47.59', reason: 'This bill is wrong', idempotencyKey: 'rid-rdh', caller: AGENT, now });
      locked();
      await new Promise((r) => setTimeout(r, 400));
      return r;
    });
    await held;
    const [disputed, refunded] = await Promise.all([disputing, addRefund(acc, '-10.00')]);
    expect(disputed.created).toBe(true);
    expect(refunded).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE' });
  });

  it('a refund that commits while the dispute waits for it: the dispute sees it and is refused', async () => {
    const acc = 'acc_rid_race_refund_held';
    const { sept } = await billed(acc);
    let locked!: () => void;
    const held = new Promise<void>((r) => (locked = r));
    const refunding = db().transactional(async (em) => {
      const r = await addOneOffCharge(em as any, { ...refund(acc, '-10.00'), occurredAt: new Date('2026-10-05T10:00:00Z'), now });
      locked();
      await new Promise((r) => setTimeout(r, 400));
      return r;
    });
    await held;
    const [refunded, disputed] = await Promise.all([refunding, openInvoiceDispute(sept.id, '47.59', 'rid-rrh')]);
    expect(refunded).toEqual({ created: true, waived: false });
    expect(disputed).toMatchObject({ ok: false, reason: 'DISPUTE_EXCEEDS_UNDISPUTED' });
  });

  it('both sent at once: exactly one passes', async () => {
    const acc = 'acc_rid_race_both';
    const { sept } = await billed(acc);
    const results = await Promise.all([addRefund(acc, '-10.00'), openInvoiceDispute(sept.id, '47.59', 'rid-rb')]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toMatchObject({ code: 'BAD_USER_INPUT' });
  });
});

describe('refunds in pieces are weighed in gross cents as billed', () => {
  it('a 10.01 activation (11.91): 2.50 and 2.50 bill 2.98 each, so at most 5.00 more (5.95); before, 5.01 passed and 11.92 was billed back', async () => {
    const acc = 'acc_rid_cents';
    const { line } = await billed(acc, '10.01');
    expect(line.grossAmount.amount).toBe('11.91');
    expect(await addRefund(acc, '-2.50', 1)).toMatchObject({ ok: true });
    expect(await addRefund(acc, '-2.50', 2)).toMatchObject({ ok: true });
    const r = await addRefund(acc, '-5.01', 3);
    expect(r).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE', field: 'input.amount.amount' });
    expect(r.message).toContain('At most 5.00');
    expect(await addRefund(acc, '-5.00', 4)).toMatchObject({ ok: true });
    const back = refundLines(await close(acc, OCT));
    expect(back.sort()).toEqual(['-2.98', '-2.98', '-5.95']);
    expect(back.reduce((a: any, x: string) => a.plus(x), dec('0')).toFixed(2)).toBe('-11.91');
  });
});
