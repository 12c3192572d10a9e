/**
 * A rerate ADJUSTMENT that moves allowance units (ADR 0019, review 16): a catalog correction that
 * moves a record's usage into an allowance (or out of it) sends the money delta AND the units, so
 * the ledger's bucket counts what usage's re-rate counts. Against the real ledger: the units move
 * once (a repeat is answered from the ledger, another move under the same chargeId is refused), the
 * bucket's used units follow, and the ledger invariants hold after every test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AllowanceMove, ChargeRequest } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { applyCharges, applyChargesInLanes } from '../src/application/apply-charges';
import { T0, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

/** A POSTPAID account (credit limit 150) with a data bucket of `quantity` MB for lin_1 over November. */
async function account(quantity: string): Promise<{ billingAccountId: string; walletId: string; bucketId: string }> {
  const { billingAccountId, walletId } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '150' });
  const g = await gql(svc, `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
    i: { billingAccountId, lineId: 'lin_1', allowanceId: 'data', unit: 'MB', quantity, validFrom: '2026-11-01T00:00:00Z', validTo: '2026-12-01T00:00:00Z', grantKey: uniq('g') },
  });
  return { billingAccountId, walletId, bucketId: g.grantBucket.bucket.id };
}

const usage = (billingAccountId: string, over: Partial<ChargeRequest>): ChargeRequest => charge(billingAccountId, { paymentMode: 'POSTPAID', ...over }) as ChargeRequest;
/** As usage's re-rate sends it (rerate-period.ts adjustmentCharge): one ITEM at the money delta, and the units it moves. */
const adjustment = (billingAccountId: string, delta: string, moves: AllowanceMove[]): ChargeRequest =>
  usage(billingAccountId, { chargeId: uniq('rrt'), kind: 'ADJUSTMENT', units: '1', unit: 'ITEM', pricePerUnit: delta, amount: delta, allowOverdraft: true, allowanceMoves: moves });
const draw = (units: string, uncoveredAmount: string): AllowanceMove => ({ allowanceId: 'data', unit: 'MB', units, uncoveredAmount });
const giveBack = (units: string): AllowanceMove => ({ allowanceId: 'data', unit: 'MB', units: `-${units}` });

async function state(walletId: string, bucketId: string) {
  const w = await gql(svc, `query($id: ID!) { wallet(id: $id) { unbilled { amount } } }`, { id: walletId });
  const [b] = await dbOf(svc).query<{ remaining: string; used: string }>(`select a.balance::text as remaining, b.used_quantity::text as used from bucket b join ledger_account a on a.id = b.id where b.id = $1`, [bucketId]);
  return { unbilled: w.wallet.unbilled.amount as string, remaining: Number(b!.remaining).toString(), used: Number(b!.used).toString() };
}
const ledgerRows = async (chargeId: string) => (await dbOf(svc).query(`select id from ledger_transaction where idempotency_key = $1`, [`CHARGE:${chargeId}`])).length;

describe('rerate adjustments that move allowance units', () => {
  it('into the allowance: the bucket gives the units and the money is credited, once; another move under its chargeId is refused', async () => {
    const { billingAccountId, walletId, bucketId } = await account('1000');
    // 100 MB of roaming priced per MB: no allowance, 49.00.
    await applyCharges(dbOf(svc), [usage(billingAccountId, { units: '100', pricePerUnit: '0.49', amount: '49' })], T0);
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '49', remaining: '1000', used: '0' });

    const adj = adjustment(billingAccountId, '-49', [draw('100', '49')]);
    const [first] = await applyCharges(dbOf(svc), [adj], T0);
    expect(first).toMatchObject({ chargeId: adj.chargeId, outcome: 'APPLIED', unitsFromAllowances: '100', amountCharged: '-49.000000' });
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '0', remaining: '900', used: '100' });
    // A repeat (redelivery, the sweeper's re-send), alone or through the lanes: the same answer, nothing moves again.
    expect(await applyCharges(dbOf(svc), [adj], T0)).toEqual([first]);
    expect(await applyChargesInLanes(dbOf(svc), [adj, adj], T0, { lanes: 2, batchSize: 10 })).toEqual([first]);
    expect(await ledgerRows(adj.chargeId)).toBe(1);
    // The same chargeId with other moves is another charge: refused, nothing written.
    const [refused] = await applyCharges(dbOf(svc), [{ ...adj, allowanceMoves: [draw('50', '24.5')] }], T0);
    expect(refused).toMatchObject({ outcome: 'REJECTED', reason: expect.stringMatching(/^CHARGE_ID_CONFLICT/) });
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '0', remaining: '900', used: '100' });
  });

  it('out of the allowance: the units go back to the bucket and the overage is charged', async () => {
    const { billingAccountId, walletId, bucketId } = await account('1000');
    // 100 MB of domestic data from the bundle: nothing in money.
    await applyCharges(dbOf(svc), [usage(billingAccountId, { units: '100', pricePerUnit: '0.01', amount: '1', allowanceIds: ['data'] })], T0);
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '0', remaining: '900', used: '100' });

    const adj = adjustment(billingAccountId, '1', [giveBack('100')]);
    const [first] = await applyCharges(dbOf(svc), [adj], T0);
    expect(first).toMatchObject({ outcome: 'APPLIED', unitsFromAllowances: '-100', amountCharged: '1.000000' });
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '1', remaining: '1000', used: '0' });
    expect(await applyCharges(dbOf(svc), [adj], T0)).toEqual([first]);
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '1', remaining: '1000', used: '0' });
  });

  it('a bucket that no longer holds the units: it gives what it has, the rest is charged at the corrected price', async () => {
    const { billingAccountId, walletId, bucketId } = await account('1000');
    await applyCharges(dbOf(svc), [usage(billingAccountId, { units: '100', pricePerUnit: '0.49', amount: '49' })], T0);
    // Later usage of the period left 30 MB in the bucket.
    await applyCharges(dbOf(svc), [usage(billingAccountId, { units: '970', pricePerUnit: '0.01', amount: '9.7', allowanceIds: ['data'] })], T0);
    const [r] = await applyCharges(dbOf(svc), [adjustment(billingAccountId, '-49', [draw('100', '49')])], T0);
    // 30 MB drawn; 70 MB at 0.49 = 34.30 on top of the -49 credit.
    expect(r).toMatchObject({ outcome: 'APPLIED', unitsFromAllowances: '30', amountCharged: '-14.700000' });
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '34.3', remaining: '0', used: '1000' });
  });

  it('units given back in a batch are there for a draw after them; a dearer adjustment past the credit limit moves nothing', async () => {
    const { billingAccountId, walletId, bucketId } = await account('100');
    await applyCharges(dbOf(svc), [usage(billingAccountId, { units: '100', pricePerUnit: '0.01', amount: '1', allowanceIds: ['data'] }), usage(billingAccountId, { units: '100', pricePerUnit: '0.49', amount: '49' })], T0);
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '49', remaining: '0', used: '100' });
    // The correction moves the bundle from the domestic record to the roaming one: the give-back first (usage sends them so).
    const results = await applyCharges(dbOf(svc), [adjustment(billingAccountId, '1', [giveBack('100')]), adjustment(billingAccountId, '-49', [draw('100', '49')])], T0);
    expect(results.map((r) => [r.outcome, r.unitsFromAllowances, r.amountCharged])).toEqual([['APPLIED', '-100', '1.000000'], ['APPLIED', '100', '-49.000000']]);
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '1', remaining: '0', used: '100' });
    // 150 of credit: +160 cannot be taken; the units stay where they are.
    const [denied] = await applyCharges(dbOf(svc), [adjustment(billingAccountId, '160', [giveBack('100')])], T0);
    expect(denied).toMatchObject({ outcome: 'DENIED', unitsFromAllowances: '0', amountCharged: '0.000000', reason: 'CREDIT_LIMIT_EXCEEDED' });
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '1', remaining: '0', used: '100' });
  });

  it('moves on a usage charge are refused (RATING_FAILED), nothing written', async () => {
    const { billingAccountId, walletId, bucketId } = await account('100');
    const [r] = await applyCharges(dbOf(svc), [usage(billingAccountId, { units: '10', pricePerUnit: '0.49', amount: '4.9', allowanceMoves: [draw('10', '4.9')] })], T0);
    expect(r).toMatchObject({ outcome: 'DENIED', reason: expect.stringMatching(/^RATING_FAILED: allowanceMoves are for an ADJUSTMENT only/) });
    expect(await state(walletId, bucketId)).toEqual({ unbilled: '0', remaining: '100', used: '0' });
  });
});
