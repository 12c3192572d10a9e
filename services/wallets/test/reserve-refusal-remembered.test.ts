// Issue 6 (online charging, exactly once): a reserve is idempotent by requestId, but only a granted one was kept
// (its reservation row). A refused one (QUOTA_LIMIT_REACHED: no allowance or balance) left nothing, so the same
// requestId asked again after a top-up was granted: two decisions for one key (CONVENTIONS 5: same key + same input
// → same result). Usage names every hold by (session, number), so a twin or a retry of its request got a hold the
// session never recorded (money held until the 300 s expiry), or a past-grant hold charged money for a record usage
// had stored DENIED. Wallets now keeps a refusal decided on the wallet (`reservation_refusal`: key, fingerprint, the
// answer) and answers a repeat with it, as it answers a repeated charge from its ledger; no ledger row for it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WalletReserveRequest } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, openPrepaid, startWallets, topup, uniq } from './support';
import { closeMany, reserve, reserveMany } from '../src/application/reservations';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const NO_BALANCE = { resultCode: 'QUOTA_LIMIT_REACHED', error: { code: 'WALLET_INSUFFICIENT_BALANCE', message: 'No allowance or balance left for this service' } };
const REUSED = { resultCode: 'RATING_FAILED', error: { code: 'IDEMPOTENCY_KEY_REUSED' } };

const request = (billingAccountId: string, over: Partial<WalletReserveRequest> = {}): WalletReserveRequest => ({
  requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '5', pricePerUnit: '1', allowanceIds: [], allowOverdraft: false, ...over,
});

const reserveOne = (req: WalletReserveRequest) => dbOf(svc).tx((sql) => reserve(sql, req, T0));
const holdsOf = async (requestId: string) => (await dbOf(svc).query<{ n: string }>(`select count(*) n from reservation where request_key = $1`, [requestId]))[0]!.n;
const ledgerRowsOf = async (sessionId: string) => (await dbOf(svc).query<{ n: string }>(`select count(*) n from ledger_transaction where reference = $1`, [sessionId]))[0]!.n;

describe('a refused reserve is remembered by its requestId', () => {
  it('the same requestId after a top-up gets the same refusal: nothing held, no ledger row', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const req = request(billingAccountId);
    const first = await reserveOne(req);
    expect(first).toMatchObject(NO_BALANCE);
    await topup(svc, billingAccountId, '10.00');
    expect(await reserveOne(req), 'the retry after the top-up').toEqual(first);
    expect(await reserveOne({ ...req, requestedUnits: '5.000', validitySeconds: 300 }), 'the same request written otherwise').toEqual(first);
    expect(await holdsOf(req.requestId)).toBe('0');
    expect(await ledgerRowsOf(req.sessionId)).toBe('0');
    expect(await balanceOf(svc, walletId)).toBe('10');
    // Another request under the refused key is refused as for a granted one; a new key is decided on the balance now.
    expect(await reserveOne({ ...req, requestedUnits: '6' })).toMatchObject(REUSED);
    const next = await reserveOne({ ...req, requestId: uniq('req') });
    expect(next).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '5' } });
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: next.reservationId!, usedUnits: '0', closing: 'RELEASED' }], T0));
  });

  it('within one batch, and in a later batch: copies of a refused request are refused alike', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const req = request(billingAccountId);
    const replies = await dbOf(svc).tx((sql) => reserveMany(sql, [req, { ...req }, { ...req, allowOverdraft: true }], T0));
    expect(replies[0]).toMatchObject(NO_BALANCE);
    expect(replies[1]).toEqual(replies[0]);
    expect(replies[2]).toMatchObject(REUSED);
    await topup(svc, billingAccountId, '10.00');
    expect(await dbOf(svc).tx((sql) => reserveMany(sql, [{ ...req }, req], T0))).toEqual([replies[0], replies[0]]);
    expect(await holdsOf(req.requestId)).toBe('0');
  });

  it('a batch that grants one request and refuses another keeps both decisions', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { overdraftLimit: '10.00' });
    const refused = request(billingAccountId);
    const granted = request(billingAccountId, { allowOverdraft: true });
    const replies = await dbOf(svc).tx((sql) => reserveMany(sql, [refused, granted], T0));
    expect(replies).toMatchObject([NO_BALANCE, { resultCode: 'SUCCESS', grantedUnit: { units: '5' } }]);
    await topup(svc, billingAccountId, '10.00');
    expect(await dbOf(svc).tx((sql) => reserveMany(sql, [granted, refused], T0))).toEqual([replies[1], replies[0]]);
    expect([await holdsOf(refused.requestId), await holdsOf(granted.requestId)]).toEqual(['0', '1']);
    expect(await balanceOf(svc, walletId)).toBe('5');
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: replies[1]!.reservationId!, usedUnits: '0', closing: 'RELEASED' }], T0));
  });

  it('concurrent copies after a refusal and a top-up: all refused, nothing held', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '2.00' });
    const req = request(billingAccountId);
    const first = await reserveOne(req);
    expect(first).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '2' }, finalUnitIndication: { finalUnitAction: 'TERMINATE' } });
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: first.reservationId!, usedUnits: '2', closing: 'COMMITTED' }], T0));
    const refused = request(billingAccountId);
    expect(await reserveOne(refused)).toMatchObject(NO_BALANCE);
    await topup(svc, billingAccountId, '10.00');
    const again = await Promise.all(Array.from({ length: 4 }, () => reserveOne({ ...refused })));
    expect(again.map((r) => r.resultCode)).toEqual(['QUOTA_LIMIT_REACHED', 'QUOTA_LIMIT_REACHED', 'QUOTA_LIMIT_REACHED', 'QUOTA_LIMIT_REACHED']);
    expect(await holdsOf(refused.requestId)).toBe('0');
    expect(await balanceOf(svc, walletId)).toBe('10');
  });
});
