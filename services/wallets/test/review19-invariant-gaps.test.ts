/**
 * Review 19: the invariant checker's blind spots (STATUS "Not done", review 18) closed, and what
 * the stronger checks found. Each check is shown to report a ledger made wrong by hand (then put
 * right again, so the afterEach check holds), and:
 * - A rerate ADJUSTMENT giving units back to a bucket a session holds units of gave back more than
 *   the bucket had used (ADR 0019: "each bucket takes back at most what it has used"): it counted
 *   the held units as used (initial - remaining), so the bucket's used units went below zero and,
 *   once the session gave its hold back, the bucket held more than was ever granted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AllowanceMove, ChargeRequest, WalletReserveRequest } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { applyCharges } from '../src/application/apply-charges';
import { closeReservation, reserveMany } from '../src/application/reservations';
import { checkLedgerInvariants } from '../src/persistence/invariants';
import { T0, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

/** A POSTPAID account with a data bucket of `quantity` MB for lin_1 over November. */
async function account(quantity: string): Promise<{ billingAccountId: string; walletId: string; bucketId: string }> {
  const { billingAccountId, walletId } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '150' });
  const g = await gql(svc, `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
    i: { billingAccountId, lineId: 'lin_1', allowanceId: 'data', unit: 'MB', quantity, validFrom: '2026-11-01T00:00:00Z', validTo: '2026-12-01T00:00:00Z', grantKey: uniq('g') },
  });
  return { billingAccountId, walletId, bucketId: g.grantBucket.bucket.id };
}

const usage = (billingAccountId: string, over: Partial<ChargeRequest>): ChargeRequest => charge(billingAccountId, { paymentMode: 'POSTPAID', ...over }) as ChargeRequest;
const adjustment = (billingAccountId: string, delta: string, moves: AllowanceMove[]): ChargeRequest =>
  usage(billingAccountId, { chargeId: uniq('rrt'), kind: 'ADJUSTMENT', units: '1', unit: 'ITEM', pricePerUnit: delta, amount: delta, allowOverdraft: true, allowanceMoves: moves });
const giveBack = (units: string): AllowanceMove => ({ allowanceId: 'data', unit: 'MB', units: `-${units}` });
const hold = (billingAccountId: string, units: string): WalletReserveRequest => ({
  requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: units, pricePerUnit: '0.01', allowanceIds: ['data'],
});

async function bucket(bucketId: string) {
  const [b] = await dbOf(svc).query<{ remaining: string; used: string }>(`select a.balance::text as remaining, b.used_quantity::text as used from bucket b join ledger_account a on a.id = b.id where b.id = $1`, [bucketId]);
  return { remaining: Number(b!.remaining).toString(), used: Number(b!.used).toString() };
}
const problems = async () => (await checkLedgerInvariants(dbOf(svc))).join('\n');

describe('the invariant checker (review 19)', () => {
  it('reports an EXPIRED or REVOKED bucket that still holds units', async () => {
    const { bucketId } = await account('100');
    for (const status of ['EXPIRED', 'REVOKED']) {
      await dbOf(svc).query(`update bucket set status = $2 where id = $1`, [bucketId, status]);
      expect(await problems()).toMatch(new RegExp(`EXPIRED and REVOKED buckets hold nothing.*${bucketId}`));
    }
    await dbOf(svc).query(`update bucket set status = 'ACTIVE' where id = $1`, [bucketId]);
  });

  it("reports a bucket whose used_quantity is not what the ledger drew from it (charges and a session's commit)", async () => {
    const { billingAccountId, bucketId } = await account('100');
    await applyCharges(dbOf(svc), [usage(billingAccountId, { units: '10', allowanceIds: ['data'] })], T0);
    const [r] = await dbOf(svc).tx((sql) => reserveMany(sql, [hold(billingAccountId, '30')], T0));
    await dbOf(svc).tx((sql) => closeReservation(sql, r!.reservationId!, '25', T0, 'COMMITTED'));
    expect(await bucket(bucketId)).toEqual({ remaining: '65', used: '35' });
    expect(await problems()).toBe('');
    await dbOf(svc).query(`update bucket set used_quantity = used_quantity - 25 where id = $1`, [bucketId]);
    expect(await problems()).toMatch(new RegExp(`used_quantity is what the ledger says.*${bucketId}`));
    await dbOf(svc).query(`update bucket set used_quantity = used_quantity + 25 where id = $1`, [bucketId]);
  });

  it("reports a charge whose stored outcome is not what its entries moved, and an agent adjustment whose amount is not its transaction's", async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const c = charge(billingAccountId, { units: '3', pricePerUnit: '1.25' });
    const [applied] = await applyCharges(dbOf(svc), [c as ChargeRequest], T0);
    expect(applied).toMatchObject({ outcome: 'APPLIED', amountCharged: '3.750000' });
    const key = `CHARGE:${c.chargeId}`;
    const [tx] = await dbOf(svc).query<{ id: string; outcome: unknown }>(`select id, outcome from ledger_transaction where idempotency_key = $1`, [key]);
    for (const wrong of [{ amountCharged: '3.5' }, { outcome: 'DENIED' }, { unitsFromAllowances: '1' }]) {
      await dbOf(svc).query(`update ledger_transaction set outcome = outcome || $2::jsonb where id = $1`, [tx!.id, JSON.stringify(wrong)]);
      expect(await problems()).toMatch(new RegExp(`stored outcome is what its entries moved.*${tx!.id}`));
      await dbOf(svc).query(`update ledger_transaction set outcome = $2::jsonb where id = $1`, [tx!.id, JSON.stringify(tx!.outcome)]);
    }
    const a = await gql(svc, `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id transactionId } } }`, {
      i: { walletId, amount: { amount: '2.00', currency: 'EUR' }, reason: 'goodwill', idempotencyKey: uniq('adj') },
    });
    const adj = a.adjustBalance.adjustment as { id: string; transactionId: string };
    await dbOf(svc).query(`update balance_adjustment set amount = 3 where id = $1`, [adj.id]);
    expect(await problems()).toMatch(new RegExp(`agent adjustment's amount is what its transaction moved.*${adj.transactionId}`));
    await dbOf(svc).query(`update balance_adjustment set amount = 2 where id = $1`, [adj.id]);
    expect(await problems()).toBe('');
  });
});

describe('a rerate give-back to a bucket a session holds units of (review 19)', () => {
  it('gives back at most what the bucket used, not the units the session holds', async () => {
    const { billingAccountId, bucketId } = await account('100');
    await applyCharges(dbOf(svc), [usage(billingAccountId, { units: '10', pricePerUnit: '0.01', allowanceIds: ['data'] })], T0);
    const [r] = await dbOf(svc).tx((sql) => reserveMany(sql, [hold(billingAccountId, '60')], T0));
    expect(r).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { unitsFromAllowances: '60' } });
    expect(await bucket(bucketId)).toEqual({ remaining: '30', used: '10' });
    // 30 MB given back: the bucket used 10, so 10 go back; the rest is lost (the money stays as asked).
    const [adj] = await applyCharges(dbOf(svc), [adjustment(billingAccountId, '0.3', [giveBack('30')])], T0);
    expect(adj).toMatchObject({ outcome: 'APPLIED', unitsFromAllowances: '-10', amountCharged: '0.300000' });
    expect(await bucket(bucketId)).toEqual({ remaining: '40', used: '0' });
    // The session gives its hold back: the bucket holds what was granted, not more.
    await dbOf(svc).tx((sql) => closeReservation(sql, r!.reservationId!, '0', T0, 'RELEASED'));
    expect(await bucket(bucketId)).toEqual({ remaining: '100', used: '0' });
  });
});
