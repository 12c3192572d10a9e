// A waiver that comes before its charge: the dunning worker gave up on a late fee request (the payment
// cancelled the step) and waived the fee's key while the request was still on its way; that request
// then commits. Before, the waiver answered NOT_FOUND and changed nothing, so the late request charged
// the fee meant to be waived. Now the waiver records the key as waived in advance (WAIVED_IN_ADVANCE),
// and the fee posted under it afterwards is recorded waived, never billed, and says so (`waived`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, startHarness, subscribe, type Harness } from './support';
import { disputeCalls, SYSTEM } from './dispute-support';

let h: Harness;
const { as, db } = disputeCalls(() => h);
const WAIVE = 'mutation($i: WaiveOneOffChargeInput!) { waiveOneOffCharge(input: $i) { outcome creditNote { id } } }';
const ADD = 'mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok waived } }';
const feeKey = (acc: string, n = 1) => `dunning-inv_${acc}_${n}:late-fee`;
const waive = async (key: string) => (await as(SYSTEM, WAIVE, { i: { id: key, reason: 'the customer paid before the fee' } })).waiveOneOffCharge;
const post = async (acc: string, key: string) =>
  (await as(SYSTEM, ADD, { i: { id: key, billingAccountId: acc, code: 'LATE_FEE', description: `Late payment fee ${key}`, amount: { amount: '7.50', currency: 'EUR' }, occurredAt: '2026-09-15T10:00:00Z' } })).addOneOffCharge;
const lateFeeLines = async (acc: string) =>
  (await h.gql<any>(`query { previewNextInvoice(billingAccountId: "${acc}") { lines { description } } }`)).previewNextInvoice.lines
    .map((l: any) => l.description as string)
    .filter((d: string) => d.startsWith('Late payment fee'));
const stored = async (key: string) => (await db().execute('select waived_at, waived_reason, amount from one_off_charge where id = ?', [key]))[0];
const openAccount = async (acc: string) => {
  await account(h, acc);
  await subscribe(h, acc, `sub_${acc}`, 'postpaid20', '2026-08-01T00:00:00Z');
};

beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
});
afterAll(async () => h?.svc.close());

describe('waiveOneOffCharge before the charge it waives', () => {
  it('waived in advance: the fee posted afterwards under its key is recorded waived and never billed', async () => {
    const acc = 'acc_waive_ahead';
    await openAccount(acc);
    const key = feeKey(acc);
    expect(await waive(key)).toEqual({ outcome: 'WAIVED_IN_ADVANCE', creditNote: null });
    expect(await waive(key)).toEqual({ outcome: 'WAIVED_IN_ADVANCE', creditNote: null }); // asked again: as it was

    expect(await post(acc, key)).toEqual({ ok: true, waived: true }); // the slow request commits now
    expect(await post(acc, key)).toEqual({ ok: true, waived: true }); // and again: the same answer
    expect(await lateFeeLines(acc)).toEqual([]);
    expect(await stored(key)).toMatchObject({ waived_reason: 'the customer paid before the fee' });
    expect((await stored(key)).waived_at).not.toBeNull();
    expect(await waive(key)).toEqual({ outcome: 'WAIVED_IN_ADVANCE', creditNote: null }); // still as it was

    // Billed: the closed period has no late fee, and none waits for the next one.
    const closed = await h.gql<any>('mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { lines { description } } } } }', {
      i: { billingAccountId: acc, periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' },
    });
    expect(closed.closeBillingPeriod.billingPeriod.invoice.lines.map((l: any) => l.description)).not.toContainEqual(expect.stringMatching(/^Late payment fee/));
    expect(await lateFeeLines(acc)).toEqual([]);
  });

  it('a fee posted first and then waived is still WAIVED, and its post answered not waived', async () => {
    const acc = 'acc_waive_after';
    await openAccount(acc);
    const key = feeKey(acc);
    expect(await post(acc, key)).toEqual({ ok: true, waived: false });
    expect(await lateFeeLines(acc)).toEqual([`Late payment fee ${key}`]);
    expect(await waive(key)).toEqual({ outcome: 'WAIVED', creditNote: null });
    expect(await post(acc, key)).toEqual({ ok: true, waived: true }); // a late retry: waived, says so
    expect(await lateFeeLines(acc)).toEqual([]);
  });

  it('waiver and post racing: the fee is never charged, and both answers tell the same order', async () => {
    const acc = 'acc_waive_race';
    await openAccount(acc);
    const keys = Array.from({ length: 12 }, (_, i) => feeKey(acc, i + 1));
    const answers = await Promise.all(keys.map(async (key, i) => {
      // Half start with the waiver, half with the post, all at once.
      const [w, p] = i % 2 === 0 ? await Promise.all([waive(key), post(acc, key)]) : (await Promise.all([post(acc, key), waive(key)])).reverse();
      return { key, w: w as { outcome: string }, p: p as { ok: boolean; waived: boolean } };
    }));
    for (const { key, w, p } of answers) {
      // The waiver first: waived in advance, and the post was recorded waived. The post first: it was
      // charged (not waived) and the waiver then waived it. Never a charge the waiver did not see.
      expect([['WAIVED_IN_ADVANCE', true], ['WAIVED', false]]).toContainEqual([w.outcome, p.waived]);
      expect((await stored(key)).waived_at, key).not.toBeNull();
    }
    expect(await lateFeeLines(acc)).toEqual([]);
  });
});
