// waiveOneOffCharge of a charge that refunds name (addOneOffCharge(input: { refundsChargeId })): the
// customer never gets more back than the charge, whatever the order of billing, refunding and waiving.
// Before, the waiver did not look at the refunds: a charge waived after a refund of it left the refund
// to be billed (the fee waived AND the refund credited), and a billed charge was credited in full by
// the waiver's credit note although a refund had given part of it back already. Now (2027-01):
//  * refunds not billed yet are cancelled with the charge (waived with it: never billed), and the
//    payload names them (`refundsCancelled`);
//  * a charge on an issued invoice is credited for what is left of it: its line less what its billed
//    refunds gave back (nothing left: CREDITED with no note);
//  * a refund on a draft, or one billed while its charge is not, is CONFLICT naming the refund;
//  * a refund (any credit) billed on an issued invoice cannot be waived (it was given; waiving took
//    nothing back, and freed its room for a second refund of the same charge): CONFLICT;
//  * a waived charge cannot be refunded (ONE_OFF_REFUND_INVALID), and a waiver and a refund of one
//    charge at the same time are decided one after the other (both take the charge id's lock).
// Real PostgreSQL; POSTPAID_20GB (29.99) at 19 %: the 10.00 activation is 11.90 gross, a 4.00 refund 4.76.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { addOneOffCharge } from '../src/application/read-model';
import { waiveOneOffCharge } from '../src/application/waive-one-off-charge';
import { account, runBillRun, startHarness, subscribe, type Harness } from './support';
import { disputeCalls, SYSTEM } from './dispute-support';

let h: Harness;
const { as, refusal, credit } = disputeCalls(() => h);
const WAIVE = 'mutation($i: WaiveOneOffChargeInput!) { waiveOneOffCharge(input: $i) { outcome creditNote { id total { amount } } refundsCancelled } }';
const ADD = 'mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok waived } }';
const INVOICE = 'query($id: ID!) { invoice(id: $id) { id state total { amount } lines { id kind description grossAmount { amount } creditedAmount { amount } } } }';
const SEPT = { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' };
const OCT = { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const charge = (acc: string, occurredAt = '2026-09-10T10:00:00Z') => ({ id: `oo_${acc}_act`, billingAccountId: acc, code: 'ACTIVATION', description: 'Activation', amount: { amount: '10.00', currency: 'EUR' }, occurredAt });
const refund = (acc: string, amount: string, occurredAt: string, n = 1) => ({
  id: `oo_${acc}_ref${n}`, billingAccountId: acc, code: 'REFUND', description: 'Activation refunded', amount: { amount, currency: 'EUR' }, occurredAt, refundsChargeId: `oo_${acc}_act`,
});
const add = async (i: Record<string, unknown>) => (await h.gql<any>(ADD, { i })).addOneOffCharge;
const waive = async (id: string) => (await as(SYSTEM, WAIVE, { i: { id, reason: 'activation fee waived by the shop' } })).waiveOneOffCharge;
const waiveRefused = (id: string) => refusal(SYSTEM, WAIVE, { i: { id, reason: 'activation fee waived by the shop' } });
async function close(acc: string, period: { periodStart: string; periodEnd: string }): Promise<any> {
  const r = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }', { i: { billingAccountId: acc, ...period } });
  return (await h.gql<any>(INVOICE, { id: r.closeBillingPeriod.billingPeriod.invoice.id })).invoice;
}
/** The activation and refund lines of an invoice: [description, gross]. */
const oneOffLines = (inv: any) => inv.lines.filter((l: any) => l.kind === 'ONE_OFF').map((l: any) => [l.description, l.grossAmount.amount]);
async function postpaid(acc: string): Promise<void> {
  await account(h, acc);
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
}

beforeAll(async () => {
  // After October's end: September and October can both be closed.
  h = await startHarness('2026-11-02T08:00:00Z', { consume: false });
});
afterAll(async () => h?.svc.close());

describe('waiving a charge that refunds name: never more back than the charge', () => {
  it.each([
    ['a partial refund', '-4.00', 'wp'],
    ['a full refund', '-10.00', 'wf'],
  ])('not billed, %s not billed either: WAIVED, the refund is cancelled with it and neither is billed', async (_, amount, tag) => {
    const acc = `acc_wrr_${tag}`;
    await postpaid(acc);
    await add(charge(acc));
    await add(refund(acc, amount, '2026-09-12T10:00:00Z'));
    expect(await waive(`oo_${acc}_act`)).toEqual({ outcome: 'WAIVED', creditNote: null, refundsCancelled: [`oo_${acc}_ref1`] });
    expect(await waive(`oo_${acc}_act`)).toEqual({ outcome: 'WAIVED', creditNote: null, refundsCancelled: [`oo_${acc}_ref1`] }); // asked again: as it was
    expect(await add(refund(acc, amount, '2026-09-12T10:00:00Z'))).toEqual({ ok: true, waived: true }); // the refund's retry: recorded, never billed
    const sept = await close(acc, SEPT);
    expect(oneOffLines(sept)).toEqual([]); // was: the refund alone, a credit for a fee never billed
    expect(sept.total.amount).toBe('35.69');
  });

  it('billed on an issued invoice, its 4.00 refund not billed yet: CREDITED for the whole 11.90, the refund cancelled (not on October\'s invoice)', async () => {
    const acc = 'acc_wrr_billed';
    await postpaid(acc);
    await add(charge(acc));
    const sept = await close(acc, SEPT);
    expect(oneOffLines(sept)).toEqual([['Activation', '11.9']]);
    await add(refund(acc, '-4.00', '2026-10-05T10:00:00Z'));
    const w = await waive(`oo_${acc}_act`);
    expect(w).toMatchObject({ outcome: 'CREDITED', creditNote: { total: { amount: '11.9' } }, refundsCancelled: [`oo_${acc}_ref1`] });
    const oct = await close(acc, OCT);
    expect(oneOffLines(oct)).toEqual([]); // was: the refund too, 16.66 back for an 11.90 fee
  });

  it('billed in September, its 4.00 refund billed in October: CREDITED for what is left, 7.14 (11.90 − 4.76), once', async () => {
    const acc = 'acc_wrr_both_billed';
    await postpaid(acc);
    await add(charge(acc));
    const sept = await close(acc, SEPT);
    await add(refund(acc, '-4.00', '2026-10-05T10:00:00Z'));
    const oct = await close(acc, OCT);
    expect(oneOffLines(oct)).toEqual([['Activation refunded', '-4.76']]);
    const w = await waive(`oo_${acc}_act`);
    expect(w).toMatchObject({ outcome: 'CREDITED', creditNote: { total: { amount: '7.14' } }, refundsCancelled: [] }); // was 11.90
    expect(await waive(`oo_${acc}_act`)).toEqual(w);
    const line = (await h.gql<any>(INVOICE, { id: sept.id })).invoice.lines.find((l: any) => l.description === 'Activation');
    expect(line.creditedAmount.amount).toBe('7.14');
  });

  it('the charge and its refund on the same issued invoice: CREDITED for what is left (7.14), or with no note when it was refunded in full', async () => {
    for (const [tag, amount, note] of [['same_part', '-4.00', '7.14'], ['same_full', '-10.00', null]] as const) {
      const acc = `acc_wrr_${tag}`;
      await postpaid(acc);
      await add(charge(acc));
      await add(refund(acc, amount, '2026-09-12T10:00:00Z'));
      const sept = await close(acc, SEPT);
      expect(oneOffLines(sept)).toEqual([['Activation', '11.9'], ['Activation refunded', dec(amount).times('1.19').toFixed(2).replace(/0$/, '')]]);
      const w = await waive(`oo_${acc}_act`);
      expect({ outcome: w.outcome, note: w.creditNote?.total.amount ?? null, cancelled: w.refundsCancelled }).toEqual({ outcome: 'CREDITED', note, cancelled: [] }); // was 11.90 both times
      expect(await credit(acc)).toBe('0'); // not paid: the note lowers what is due, no credit
    }
  });

  it('a refund billed while its charge is not (the charge dated later): CONFLICT naming the refund; billed, the charge is then credited for what is left', async () => {
    const acc = 'acc_wrr_refund_first';
    await postpaid(acc);
    await add(charge(acc, '2026-10-05T10:00:00Z'));
    await add(refund(acc, '-4.00', '2026-09-12T10:00:00Z'));
    const sept = await close(acc, SEPT);
    expect(oneOffLines(sept)).toEqual([['Activation refunded', '-4.76']]);
    const refused = await waiveRefused(`oo_${acc}_act`);
    expect(refused).toMatchObject({ code: 'CONFLICT', reason: 'ONE_OFF_CHARGE_REFUND_BILLED', field: 'input.id' }); // was WAIVED: 4.76 back for a fee never billed
    const oct = await close(acc, OCT);
    expect(oneOffLines(oct)).toEqual([['Activation', '11.9']]);
    expect(await waive(`oo_${acc}_act`)).toMatchObject({ outcome: 'CREDITED', creditNote: { total: { amount: '7.14' } } });
  });

  it('a waived charge (WAIVED or CREDITED) is not refunded: ONE_OFF_REFUND_INVALID', async () => {
    for (const billed of [false, true]) {
      const acc = `acc_wrr_waived_${billed ? 'billed' : 'open'}`;
      await postpaid(acc);
      await add(charge(acc));
      if (billed) await close(acc, SEPT);
      expect((await waive(`oo_${acc}_act`)).outcome).toBe(billed ? 'CREDITED' : 'WAIVED');
      expect(await h.gqlError(ADD, { i: refund(acc, '-4.00', '2026-10-05T10:00:00Z') })).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'ONE_OFF_REFUND_INVALID', field: 'input.refundsChargeId' });
    }
  });

  it('a refund billed on an issued invoice is not waived (CONFLICT ONE_OFF_CREDIT_GIVEN): a second refund of the charge stays refused', async () => {
    const acc = 'acc_wrr_waive_refund';
    await postpaid(acc);
    await add(charge(acc));
    await add(refund(acc, '-10.00', '2026-09-12T10:00:00Z'));
    await close(acc, SEPT);
    expect(await waiveRefused(`oo_${acc}_ref1`)).toMatchObject({ code: 'CONFLICT', reason: 'ONE_OFF_CREDIT_GIVEN', field: 'input.id' }); // was CREDITED, with no note
    expect(await h.gqlError(ADD, { i: refund(acc, '-10.00', '2026-10-05T10:00:00Z', 2) })).toMatchObject({ reason: 'ONE_OFF_REFUND_EXCEEDS_CHARGE' }); // was accepted: 23.80 back
    // A refund not billed yet may be waived on its own (cancelled): its room is free again.
    const open = 'acc_wrr_waive_open_refund';
    await postpaid(open);
    await add(charge(open));
    await add(refund(open, '-10.00', '2026-09-12T10:00:00Z'));
    expect(await waive(`oo_${open}_ref1`)).toEqual({ outcome: 'WAIVED', creditNote: null, refundsCancelled: [] });
    expect(await add(refund(open, '-10.00', '2026-09-12T10:00:00Z', 2))).toEqual({ ok: true, waived: false });
    expect(oneOffLines(await close(open, SEPT))).toEqual([['Activation', '11.9'], ['Activation refunded', '-11.9']]);
  });

  it('a refund on a draft: CONFLICT naming it; with the draft voided the waiver cancels it and the regenerated invoice bills neither', async () => {
    const acc = 'acc_wrr_draft';
    await postpaid(acc);
    await add(charge(acc));
    await add(refund(acc, '-4.00', '2026-09-12T10:00:00Z'));
    const run = await runBillRun(h, '2026-10-01', { autoIssue: false }); // every account of this file billed for September by now, or billed here as drafts
    expect(run.state).toBe('COMPLETED');
    const [draft] = (await h.gql<any>('query($a: ID) { invoices(billingAccountId: $a) { edges { node { id state } } } }', { a: acc })).invoices.edges.map((e: any) => e.node);
    expect(draft.state).toBe('NEW');
    // The charge is on the draft too: that answer comes first, as before.
    expect(await waiveRefused(`oo_${acc}_act`)).toMatchObject({ code: 'CONFLICT', reason: 'ONE_OFF_CHARGE_ON_DRAFT' });
    await h.gql('mutation($i: InvoiceIdInput!) { voidInvoice(input: $i) { invoice { state } } }', { i: { invoiceId: draft.id } });
    expect(await waive(`oo_${acc}_act`)).toEqual({ outcome: 'WAIVED', creditNote: null, refundsCancelled: [`oo_${acc}_ref1`] });
    const regen = await h.gql<any>('mutation($i: InvoiceIdInput!) { regenerateInvoice(input: $i) { invoice { id } } }', { i: { invoiceId: draft.id } });
    expect(oneOffLines((await h.gql<any>(INVOICE, { id: regen.regenerateInvoice.invoice.id })).invoice)).toEqual([]);
  });

  it('a refund on a draft while its charge was billed on an issued invoice: CONFLICT ONE_OFF_CHARGE_REFUND_ON_DRAFT naming the refund and the draft', async () => {
    const acc = 'acc_wrr_refund_draft';
    await postpaid(acc);
    await add(charge(acc));
    await close(acc, SEPT);
    await add(refund(acc, '-4.00', '2026-10-05T10:00:00Z'));
    const run = await runBillRun(h, '2026-11-01', { autoIssue: false });
    expect(run.state).toBe('COMPLETED');
    const invoices = (await h.gql<any>('query($a: ID) { invoices(billingAccountId: $a) { edges { node { id state } } } }', { a: acc })).invoices.edges.map((e: any) => e.node);
    const draft = invoices.find((i: any) => i.state === 'NEW');
    const r = await h.svc.request(WAIVE, { i: { id: `oo_${acc}_act`, reason: 'activation fee waived by the shop' } }, SYSTEM);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ONE_OFF_CHARGE_REFUND_ON_DRAFT', field: 'input.id' });
    expect(r.errors?.[0]?.message).toContain(`oo_${acc}_ref1`);
    expect(r.errors?.[0]?.message).toContain(draft.id);
  });
});

describe('a waiver and a refund of one charge at the same time are decided one after the other', () => {
  const db = () => h.svc.runtime.orm.em.fork();
  const now = new Date('2026-11-02T08:00:00Z');
  const cmd = (i: ReturnType<typeof refund>) => ({ ...i, occurredAt: new Date(i.occurredAt), now });

  it('a refund that commits while the waiver waits on the charge: the waiver cancels it', async () => {
    const acc = 'acc_wrr_race_refund_first';
    await postpaid(acc);
    await add(charge(acc));
    let locked!: () => void;
    const held = new Promise<void>((r) => (locked = r));
    const refunding = db().transactional(async (em) => {
      const r = await addOneOffCharge(em as any, cmd(refund(acc, '-4.00', '2026-09-12T10:00:00Z')));
      locked(); // the refund holds the charge id's lock until it commits
      await sleep(400);
      return r;
    });
    await held;
    const [refunded, waived] = await Promise.all([refunding, waive(`oo_${acc}_act`)]);
    expect(refunded).toEqual({ created: true, waived: false });
    expect(waived).toEqual({ outcome: 'WAIVED', creditNote: null, refundsCancelled: [`oo_${acc}_ref1`] });
    expect(oneOffLines(await close(acc, SEPT))).toEqual([]); // was: the refund billed alone
  });

  it('a refund asked while the waiver holds the charge: refused ONE_OFF_REFUND_INVALID, nothing billed', async () => {
    const acc = 'acc_wrr_race_waive_first';
    await postpaid(acc);
    await add(charge(acc));
    let locked!: () => void;
    const held = new Promise<void>((r) => (locked = r));
    const waiving = db().transactional(async (em) => {
      const r = await waiveOneOffCharge(em as any, { id: `oo_${acc}_act`, reason: 'activation fee waived by the shop', now });
      locked();
      await sleep(400);
      return r;
    });
    await held;
    const [waived, refused] = await Promise.all([waiving, h.gqlError(ADD, { i: refund(acc, '-4.00', '2026-09-12T10:00:00Z') })]);
    expect(waived).toMatchObject({ outcome: 'WAIVED' });
    expect(refused).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'ONE_OFF_REFUND_INVALID', field: 'input.refundsChargeId' });
    expect(oneOffLines(await close(acc, SEPT))).toEqual([]);
  });
});
