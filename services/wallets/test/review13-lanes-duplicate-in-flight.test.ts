// ChargeLanes (lanes that outlive a call): a chargeId is taken once, the first copy, whichever
// account it names. Across calls, a later copy naming another account (so another lane) must not
// be applied while the first copy is still queued or being written on its lane: it waits for it
// there and is answered from the ledger: as another charge than the first, REJECTED
// (CHARGE_ID_CONFLICT; before fingerprints it was answered with the first copy's decision).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChargeRequest } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, charge, dbOf, expectInvariants, openPrepaid, startWallets } from './support';
import { ChargeLanes, laneOf } from '../src/application/apply-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const c = (billingAccountId: string, over: Partial<ChargeRequest> = {}) => charge(billingAccountId, over) as unknown as ChargeRequest;

describe('ChargeLanes: a duplicate chargeId in flight on another lane', () => {
  it('a later copy naming another account waits for the first (still queued on its lane) and changes nothing', async () => {
    const lanes = new ChargeLanes(dbOf(svc), { lanes: 2, batchSize: 1, results: 'caller' });
    const a = await openPrepaid(svc, { balance: '10.00' });
    let b = await openPrepaid(svc, { balance: '10.00' });
    while (laneOf(b.billingAccountId, 2) === laneOf(a.billingAccountId, 2)) b = await openPrepaid(svc, { balance: '10.00' });
    // Call 1: five of A's charges, then X (A's), one transaction each: X is written last.
    const x = c(a.billingAccountId);
    const first = lanes.apply([...Array.from({ length: 5 }, () => c(a.billingAccountId)), x], T0);
    // Call 2, handed over at once: X again, naming B (B's lane is free).
    const again = { ...x, billingAccountId: b.billingAccountId };
    const second = lanes.apply([again], T0);
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.map((r) => r.outcome)).toEqual(['APPLIED', 'APPLIED', 'APPLIED', 'APPLIED', 'APPLIED', 'APPLIED']);
    expect(r2.map((r) => [r.chargeId, r.outcome, r.amountCharged])).toEqual([[x.chargeId, 'REJECTED', '0.000000']]);
    // The first copy (A's) was applied; B was not charged.
    expect(await balanceOf(svc, a.walletId)).toBe('4');
    expect(await balanceOf(svc, b.walletId)).toBe('10');
    const [tx] = await dbOf(svc).query<{ billing_account_id: string }>(`select billing_account_id from ledger_transaction where idempotency_key = $1`, [`CHARGE:${x.chargeId}`]);
    expect(tx!.billing_account_id).toBe(a.billingAccountId);
  });

  it('two copies written at the same time on two lanes do not fail either call (no unique-key violation)', async () => {
    const lanes = new ChargeLanes(dbOf(svc), { lanes: 2, batchSize: 1000, results: 'caller' });
    for (let round = 0; round < 5; round++) {
      const a = await openPrepaid(svc, { balance: '10.00' });
      let b = await openPrepaid(svc, { balance: '10.00' });
      while (laneOf(b.billingAccountId, 2) === laneOf(a.billingAccountId, 2)) b = await openPrepaid(svc, { balance: '10.00' });
      const xs = Array.from({ length: 50 }, () => c(a.billingAccountId));
      const first = lanes.apply(xs, T0);
      const second = lanes.apply(xs.map((x) => ({ ...x, billingAccountId: b.billingAccountId })), T0);
      const [r1, r2] = await Promise.all([first, second]);
      expect(r2).toHaveLength(50);
      expect(r1.filter((r) => r.outcome === 'APPLIED')).toHaveLength(10);
      expect(r2.every((r) => r.outcome === 'REJECTED' && r.amountCharged === '0.000000')).toBe(true);
      expect(await balanceOf(svc, a.walletId)).toBe('0');
      expect(await balanceOf(svc, b.walletId)).toBe('10');
    }
  });
});
