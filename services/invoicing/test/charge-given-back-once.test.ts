// A billed one-off charge is given back through several doors: a credit note staff issue on its
// invoice line (issueCreditNote), the waiver's note, an upheld dispute's note on the line, and a
// refund naming it (addOneOffCharge refundsChargeId, billed as a credit on a later or the same
// invoice). Before 2026-11-29 the refund was weighed against the charge's amount only and the notes
// against the line's credited amount only: each door let the customer have the whole charge back
// once more. Now all of them count against one remaining amount per charge and line
// (domain/charge-refundable.ts): what the line billed, tax included, less its credit notes and the
// refunds naming its charge (billed: their line's gross; not billed yet: their share of the line).
// A request above what remains is refused (BAD_USER_INPUT, naming the field and what remains); an
// upheld dispute's credit is refused too (DISPUTE_CREDIT_EXCEEDS_CREDITABLE: the workflow's
// automatic ACCEPT goes to an agent, as for any accept that no longer fits).
// Real PostgreSQL; POSTPAID_20GB (29.99 = 35.69 gross) at 19 %: the 10.00 activation is 11.90
// gross, a 4.00 refund 4.76, 5.00 is 5.95.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { addOneOffCharge } from '../src/application/read-model';
import { account, charges, startHarness, subscribe, type Harness } from './support';
import { agent, disputeMutations } from './dispute-support';

let h: Harness;
const ADD = 'mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok waived } }';
const ISSUE = 'mutation($i: IssueCreditNoteInput!) { issueCreditNote(input: $i) { creditNote { id total { amount } } } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } lines { id kind description grossAmount { amount } creditedAmount { amount } } } }';
const { OPEN, DECIDE } = disputeMutations('id status amount { amount } creditedAmount { amount }');
const SEPT = { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' };
const OCT = { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' };
const AGENT = agent('agent-gb');

const charge = (acc: string) => ({ id: `oo_${acc}_act`, billingAccountId: acc, code: 'ACTIVATION', description: 'Activation', amount: { amount: '10.00', currency: 'EUR' }, occurredAt: '2026-09-10T10:00:00Z' });
const refund = (acc: string, amount: string, occurredAt = '2026-10-05T10:00:00Z', n = 1) => ({
  id: `oo_${acc}_ref${n}`, billingAccountId: acc, code: 'REFUND', description: 'Activation refunded', amount: { amount, currency: 'EUR' }, occurredAt, refundsChargeId: `oo_${acc}_act`,
});

/** The first error's extensions and message, or the data when it passed. */
async function attempt(query: string, variables: Record<string, unknown>, caller?: any): Promise<{ ok: boolean; code?: string; reason?: string; field?: string; message?: string; data?: any }> {
  const r = await h.svc.request<any>(query, variables, caller);
  if (!r.errors?.length) return { ok: true, data: r.data };
  const ext = r.errors[0]!.extensions ?? {};
  return { ok: false, code: String(ext.code), reason: String(ext.reason), field: ext.field as string | undefined, message: r.errors[0]!.message };
}
const addRefund = (acc: string, amount: string, occurredAt?: string, n?: number) => attempt(ADD, { i: refund(acc, amount, occurredAt, n) });
const note = (invoiceId: string, lineId: string, amount: string, key: string) =>
  attempt(ISSUE, { i: { invoiceId, kind: 'CREDIT', reason: 'Activation not done', lines: [{ invoiceLineId: lineId, amount }], idempotencyKey: key } });
const openLineDispute = (invoiceId: string, lineId: string | null, amount: string, key: string) =>
  attempt(OPEN, { i: { invoiceId, ...(lineId ? { invoiceLineId: lineId } : {}), amount, reason: 'Activation was never done', idempotencyKey: key } });

async function close(acc: string, period: { periodStart: string; periodEnd: string }): Promise<any> {
  const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', { i: { billingAccountId: acc, ...period } });
  return (await h.gql<any>(INVOICE, { id: r.closeBillingPeriod.billingPeriod.invoice.id })).invoice;
}
const oneOffLines = (inv: any) => inv.lines.filter((l: any) => l.kind === 'ONE_OFF').map((l: any) => [l.description, l.grossAmount.amount]);
const activation = (inv: any) => inv.lines.find((l: any) => l.description === 'Activation');

/** An account with the 10.00 activation billed on its issued September invoice (`before`: what to add before September is closed). */
async function billed(acc: string, before?: () => Promise<unknown>): Promise<{ sept: any; line: any }> {
  await account(h, acc);
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql(ADD, { i: charge(acc) });
  await before?.();
  const sept = await close(acc, SEPT);
  return { sept, line: activation(sept) };
}

beforeAll(async () => {
  h = await startHarness('2026-11-02T08:00:00Z', { consume: false });
});
afterAll(async () => h?.svc.close());

describe('a credit note on the charge\'s line, then a refund of the charge', () => {
  it('credited in full: a refund is refused (nothing remains); was accepted and billed, 23.80 back for 11.90', async () => {
    const acc = 'acc_gb_note_full';
    const { sept, line } = await billed(acc);
    expect((await note(sept.id, line.id, '11.90', 'gb-nf')).ok).toBe(true);
    const r = await addRefund(acc, '-10.00');
    expect(r).toMatchObject({ ok: false, code: 'BAD_USER_INPUT', reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE', field: 'input.amount.amount' });
    expect(r.message).toContain('0.00');
    expect(oneOffLines(await close(acc, OCT))).toEqual([]);
  });

  it('credited 5.95 of 11.90: at most 5.00 is left to refund; 5.00 passes and is billed 5.95', async () => {
    const acc = 'acc_gb_note_part';
    const { sept, line } = await billed(acc);
    expect((await note(sept.id, line.id, '5.95', 'gb-np')).ok).toBe(true);
    const r = await addRefund(acc, '-10.00');
    expect(r).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE', field: 'input.amount.amount' });
    expect(r.message).toContain('At most 5.00');
    expect(await addRefund(acc, '-5.00')).toMatchObject({ ok: true });
    expect(oneOffLines(await close(acc, OCT))).toEqual([['Activation refunded', '-5.95']]);
  });

  it('an upheld dispute of the line: a refund is refused; was accepted', async () => {
    const acc = 'acc_gb_dispute_then_refund';
    const { sept, line } = await billed(acc);
    const d = await openLineDispute(sept.id, line.id, '11.90', 'gb-dtr');
    expect(d.ok).toBe(true);
    expect((await attempt(DECIDE, { i: { disputeId: d.data.openDispute.dispute.id, decision: 'ACCEPT', note: 'Never activated' } }, AGENT)).ok).toBe(true);
    expect(await addRefund(acc, '-10.00')).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE', field: 'input.amount.amount' });
  });

  it('an open dispute of the line holds its room: a refund is refused while it is open, and passes once it is rejected', async () => {
    const acc = 'acc_gb_open_dispute';
    const { sept, line } = await billed(acc);
    const d = await openLineDispute(sept.id, line.id, '11.90', 'gb-od');
    const r = await addRefund(acc, '-10.00');
    expect(r).toMatchObject({ ok: false, reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE', field: 'input.amount.amount' });
    expect(r.message).toContain('disput');
    expect((await attempt(DECIDE, { i: { disputeId: d.data.openDispute.dispute.id, decision: 'REJECT', note: 'It was activated' } }, AGENT)).ok).toBe(true);
    expect(await addRefund(acc, '-10.00')).toMatchObject({ ok: true });
  });
});

describe('a refund of the charge, then a credit note on its line', () => {
  it('a refund not billed yet: a note is refused above what is left (7.14), that passes; was 11.90 and the refund billed too', async () => {
    const acc = 'acc_gb_refund_open';
    const { sept, line } = await billed(acc);
    expect(await addRefund(acc, '-4.00')).toMatchObject({ ok: true });
    const r = await note(sept.id, line.id, '11.90', 'gb-ro');
    expect(r).toMatchObject({ ok: false, code: 'BAD_USER_INPUT', reason: 'CREDIT_NOTE_EXCEEDS_LINE', field: 'input.lines[0].amount' });
    expect(r.message).toContain('7.14');
    expect(await note(sept.id, line.id, '7.14', 'gb-ro2')).toMatchObject({ ok: true });
    expect(oneOffLines(await close(acc, OCT))).toEqual([['Activation refunded', '-4.76']]);
  });

  it('a full refund billed on the next invoice: a note on the charge\'s line is refused; was 11.90 more', async () => {
    const acc = 'acc_gb_refund_billed';
    const { sept, line } = await billed(acc);
    expect(await addRefund(acc, '-10.00')).toMatchObject({ ok: true });
    expect(oneOffLines(await close(acc, OCT))).toEqual([['Activation refunded', '-11.9']]);
    expect(await note(sept.id, line.id, '11.90', 'gb-rb')).toMatchObject({ ok: false, reason: 'CREDIT_NOTE_EXCEEDS_LINE' });
    expect(await note(sept.id, line.id, '0.01', 'gb-rb2')).toMatchObject({ ok: false, reason: 'CREDIT_NOTE_EXCEEDS_LINE' });
  });

  it('a refund on the same invoice as the charge: the charge\'s line has 7.14 left, not 11.90 (the plan fee keeps the invoice cap away)', async () => {
    const acc = 'acc_gb_refund_same';
    const { sept, line } = await billed(acc, () => addRefund(acc, '-4.00', '2026-09-12T10:00:00Z'));
    expect(oneOffLines(sept)).toEqual([['Activation', '11.9'], ['Activation refunded', '-4.76']]);
    const r = await note(sept.id, line.id, '11.90', 'gb-rs');
    expect(r).toMatchObject({ ok: false, reason: 'CREDIT_NOTE_EXCEEDS_LINE' });
    expect(r.message).toContain('7.14');
  });

  it('a line dispute after a full refund is refused (nothing left on the line); was opened and upheld, 11.90 more', async () => {
    const acc = 'acc_gb_refund_dispute';
    const { sept, line } = await billed(acc);
    expect(await addRefund(acc, '-10.00')).toMatchObject({ ok: true });
    expect(await openLineDispute(sept.id, line.id, '11.90', 'gb-rd')).toMatchObject({ ok: false, code: 'BAD_USER_INPUT', reason: 'DISPUTE_EXCEEDS_LINE', field: 'input.amount' });
  });

  it('an invoice dispute upheld after a full refund credits the other lines, never the refunded charge\'s', async () => {
    const acc = 'acc_gb_refund_inv_dispute';
    const { sept, line } = await billed(acc);
    expect(await addRefund(acc, '-10.00')).toMatchObject({ ok: true });
    // 47.59 billed, 11.90 of it refunded apart: 35.69 can still be disputed.
    expect(await openLineDispute(sept.id, null, '47.59', 'gb-rid')).toMatchObject({ ok: false, reason: 'DISPUTE_EXCEEDS_UNDISPUTED', field: 'input.amount' });
    const d = await openLineDispute(sept.id, null, '35.69', 'gb-rid2');
    expect(d.ok).toBe(true);
    expect((await attempt(DECIDE, { i: { disputeId: d.data.openDispute.dispute.id, decision: 'ACCEPT', note: 'Upheld' } }, AGENT)).ok).toBe(true);
    const after = (await h.gql<any>(INVOICE, { id: sept.id })).invoice;
    expect(after.lines.find((l: any) => l.id === line.id).creditedAmount.amount).toBe('0');
    expect(after.lines.find((l: any) => l.kind === 'RECURRING').creditedAmount.amount).toBe('35.69');
  });
});

describe('give-backs of one charge at the same time: never both past what remains', () => {
  const db = () => h.svc.runtime.orm.em.fork();
  const now = new Date('2026-11-02T08:00:00Z');

  it('a full refund and a full credit note of the line at once: one passes, the other is refused', async () => {
    const acc = 'acc_gb_race_refund_note';
    const { sept, line } = await billed(acc);
    const results = await Promise.all([addRefund(acc, '-10.00'), note(sept.id, line.id, '11.90', 'gb-rrn')]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.find((r) => !r.ok)).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('two full refunds and a full line dispute at once: one passes', async () => {
    const acc = 'acc_gb_race_three';
    const { sept, line } = await billed(acc);
    const results = await Promise.all([addRefund(acc, '-10.00', undefined, 1), addRefund(acc, '-10.00', undefined, 2), openLineDispute(sept.id, line.id, '11.90', 'gb-r3')]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    for (const r of results.filter((x) => !x.ok)) expect(r.code).toBe('BAD_USER_INPUT');
  });

  it('a refund that commits while a credit note waits for it: the note sees it', async () => {
    const acc = 'acc_gb_race_held';
    const { sept, line } = await billed(acc);
    let locked!: () => void;
    const held = new Promise<void>((r) => (locked = r));
    const refunding = db().transactional(async (em) => {
      const r = await addOneOffCharge(em as any, { ...refund(acc, '-10.00'), occurredAt: new Date('2026-10-05T10:00:00Z'), now });
      locked();
      await new Promise((r) => setTimeout(r, 400));
      return r;
    });
    await held;
    const [refunded, noted] = await Promise.all([refunding, note(sept.id, line.id, '11.90', 'gb-rh')]);
    expect(refunded).toEqual({ created: true, waived: false });
    expect(noted).toMatchObject({ ok: false, reason: 'CREDIT_NOTE_EXCEEDS_LINE' });
  });
});

// A usage line bills many records; a record's rerate correction (an ADJUSTMENT credit naming it,
// usage-record-given-back.ts) gives back part of that line on a later invoice. The line's credit notes
// and disputes and the corrections of its records now count against the same remaining amount of the
// line (before, a note of the whole line and a correction of its record both gave it back).
describe('a usage line: its credit notes and the rerate corrections of its records', () => {
  const usage = (acc: string, chargeId: string, amount: string, units: string) => ({
    chargeId, billingAccountId: acc, lineId: `lin_sub_${acc}`, usageType: 'DATA', zone: 'EU_ROAMING', units, unit: 'MB', amount, currency: 'EUR', occurredAt: '2026-09-10T10:00:00Z',
  });
  async function roamingBilled(acc: string): Promise<{ sept: any; line: any }> {
    await account(h, acc);
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    await charges(h, [usage(acc, `usg_${acc}`, '10.00', '100')]);
    const sept = await close(acc, SEPT);
    return { sept, line: sept.lines.find((l: any) => l.kind === 'USAGE') };
  }
  const rerate = (acc: string) => charges(h, [{ ...usage(acc, `usg_${acc}:rerate:2`, '-10.00', '0'), usageRecordId: `usg_${acc}` }]);
  /** What the invoice's ADJUSTMENT lines give back together (a correction absorbed whole still shows as a 0 line). */
  const adjustments = (inv: any) => inv.lines.filter((l: any) => l.kind === 'ADJUSTMENT').reduce((a: any, l: any) => a.plus(l.grossAmount.amount), dec('0')).toFixed(2);

  it('the whole line credited by a note, then its record re-rated to nothing: the correction bills nothing; was -11.90 more', async () => {
    const acc = 'acc_gb_usage_note_first';
    const { sept, line } = await roamingBilled(acc);
    expect(line.grossAmount.amount).toBe('11.9');
    expect(await note(sept.id, line.id, '11.90', 'gb-unf')).toMatchObject({ ok: true });
    await rerate(acc);
    expect(adjustments(await close(acc, OCT))).toBe('0.00');
  });

  it('two records on the line, half of it credited by a note, both re-rated to nothing: the corrections give back the other half only', async () => {
    const acc = 'acc_gb_usage_two';
    await account(h, acc);
    await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
    await charges(h, [usage(acc, `usg_${acc}_1`, '5.00', '50'), usage(acc, `usg_${acc}_2`, '5.00', '50')]);
    const sept = await close(acc, SEPT);
    const line = sept.lines.find((l: any) => l.kind === 'USAGE');
    expect(line.grossAmount.amount).toBe('11.9');
    expect(await note(sept.id, line.id, '5.95', 'gb-u2')).toMatchObject({ ok: true });
    await charges(h, [1, 2].map((n) => ({ ...usage(acc, `usg_${acc}_${n}:rerate:2`, '-5.00', '0'), usageRecordId: `usg_${acc}_${n}` })));
    expect(adjustments(await close(acc, OCT))).toBe('-5.95'); // was -11.90: 17.85 back for 11.90
  });

  it('its record re-rated and billed first: a note or a dispute of the line is refused; was 11.90 more', async () => {
    const acc = 'acc_gb_usage_rerate_first';
    const { sept, line } = await roamingBilled(acc);
    await rerate(acc);
    expect(adjustments(await close(acc, OCT))).toBe('-11.90');
    expect(await note(sept.id, line.id, '11.90', 'gb-urf')).toMatchObject({ ok: false, code: 'BAD_USER_INPUT', reason: 'CREDIT_NOTE_EXCEEDS_LINE' });
    expect(await openLineDispute(sept.id, line.id, '11.90', 'gb-urf-d')).toMatchObject({ ok: false, code: 'BAD_USER_INPUT', reason: 'DISPUTE_EXCEEDS_LINE' });
  });
});
