// A commit may carry the price per unit of the units used (WalletCommitRequest.pricePerUnit): usage holds a session's
// units at the rated price of the units asked for, which spreads a fixed amount per call (a connection fee) over them, and
// commits the units used at their own rated price. Charged so, never more money than was held, kept for a repeated
// commit's answer; an invalid price is refused and closes nothing. Real PostgreSQL; ledger invariants checked after each.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WalletReserveRequest } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { closeMany, reserve, type CloseRequest } from '../src/application/reservations';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

// 300 s of a call with a 0.10 connection fee at 0.025/s: 7.60 held, 0.0253333333 a second.
const request = (billingAccountId: string): WalletReserveRequest => ({
  requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'VOICE', unit: 'SECOND', requestedUnits: '300', pricePerUnit: '0.0253333333', allowanceIds: [], allowOverdraft: false,
});
const close = (item: CloseRequest) => dbOf(svc).tx(async (sql) => (await closeMany(sql, [item], T0))[0]!);

describe('a commit at the used units\' own price per unit', () => {
  it('charges the units used at the price given, answers a repeat the same, and never takes more than was held', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const held = await reserve(dbOf(svc), request(billingAccountId), T0);
    expect(held).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '300' } });
    // 60 s used: 1.50 + the whole 0.10 fee (at the held price: 1.52).
    expect(await close({ reservationId: held.reservationId!, usedUnits: '60', closing: 'COMMITTED', pricePerUnit: '0.0266666667' })).toMatchObject({ status: 'COMMITTED', usedUnits: '60', amountCharged: '1.600000' });
    expect(await close({ reservationId: held.reservationId!, usedUnits: '60', closing: 'COMMITTED' })).toMatchObject({ status: 'COMMITTED', usedUnits: '60', amountCharged: '1.600000' });
    expect(await balanceOf(svc, walletId)).toBe('8.4');

    const capped = await reserve(dbOf(svc), request(billingAccountId), T0);
    expect(await close({ reservationId: capped.reservationId!, usedUnits: '300', closing: 'COMMITTED', pricePerUnit: '0.05' })).toMatchObject({ status: 'COMMITTED', amountCharged: '7.600000' });
    expect(await balanceOf(svc, walletId)).toBe('0.8');
  });

  it('refuses a price that is not a decimal of at most 10 places, and closes nothing', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const held = await reserve(dbOf(svc), request(billingAccountId), T0);
    for (const pricePerUnit of ['-1', '0.12345678901', 'abc']) {
      expect(await close({ reservationId: held.reservationId!, usedUnits: '60', closing: 'COMMITTED', pricePerUnit })).toMatchObject({ resultCode: 'RATING_FAILED', error: { code: 'AMOUNT_INVALID' } });
    }
    expect(await balanceOf(svc, walletId)).toBe('2.4');
    expect(await close({ reservationId: held.reservationId!, usedUnits: '0', closing: 'RELEASED' })).toMatchObject({ status: 'RELEASED' });
  });
});
