// A reserve refused WALLET_NOT_FOUND was not kept by its requestId (only QUOTA_LIMIT_REACHED and WALLET_CLOSED
// refusals were, reservation_refusal): the same request asked again once the wallet existed (wallets' account
// consumer behind usage's line events, or staff opening the wallet in the plan's currency after the refusals) was
// granted. Two decisions for one key (CONVENTIONS 5), and the money path is usage's past-grant hold: refused, its
// record stored DENIED / unpaid, the UPDATE cut short and resumed after the wallet was opened, and the hold was then
// granted and committed: money taken for a record that says unpaid. Charges already keep theirs (USER_UNKNOWN, by chargeId).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WalletReserveRequest } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, gql, startWallets, topup, uniq } from './support';
import { closeMany, reserve, reserveMany } from '../src/application/reservations';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const request = (billingAccountId: string, over: Partial<WalletReserveRequest> = {}): WalletReserveRequest => ({
  requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '5', pricePerUnit: '1', allowanceIds: [], allowOverdraft: false, ...over,
});
const reserveOne = (req: WalletReserveRequest) => dbOf(svc).tx((sql) => reserve(sql, req, T0));
const holdsOf = async (requestId: string) => (await dbOf(svc).query<{ n: string }>(`select count(*) n from reservation where request_key = $1`, [requestId]))[0]!.n;
const openWallet = async (billingAccountId: string, currency = 'EUR'): Promise<string> =>
  (await gql(svc, `mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId, currency, paymentMode: 'PREPAID' } })).openWallet.wallet.id;

describe('a reserve refused WALLET_NOT_FOUND is remembered by its requestId', () => {
  it('the same request once the wallet is open and funded gets the same refusal; a new key is granted', async () => {
    const billingAccountId = uniq('acc');
    const req = request(billingAccountId);
    const first = await reserveOne(req);
    expect(first).toMatchObject({ resultCode: 'USER_UNKNOWN', error: { code: 'WALLET_NOT_FOUND' } });
    const walletId = await openWallet(billingAccountId);
    await topup(svc, billingAccountId, '10.00');
    expect(await reserveOne({ ...req }), 'the retry after the wallet was opened').toEqual(first);
    expect(await holdsOf(req.requestId)).toBe('0');
    expect(await balanceOf(svc, walletId)).toBe('10');
    expect(await reserveOne({ ...req, requestedUnits: '6' })).toMatchObject({ resultCode: 'RATING_FAILED', error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    const next = await reserveOne({ ...req, requestId: uniq('req') });
    expect(next).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '5' } });
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: next.reservationId!, usedUnits: '0', closing: 'RELEASED' }], T0));
  });

  it('no wallet in the currency asked: the same, after a wallet in that currency is opened', async () => {
    const billingAccountId = uniq('acc');
    await openWallet(billingAccountId, 'EUR');
    const req = request(billingAccountId, { currency: 'USD' });
    const first = await reserveOne(req);
    expect(first).toMatchObject({ resultCode: 'USER_UNKNOWN', error: { code: 'WALLET_NOT_FOUND' } });
    await openWallet(billingAccountId, 'USD');
    await gql(svc, `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId, amount: { amount: '10.00', currency: 'USD' }, idempotencyKey: uniq('key') } });
    expect(await reserveOne({ ...req })).toEqual(first);
    expect(await holdsOf(req.requestId)).toBe('0');
  });

  it('an account id no wallet can have (longer than 40 characters) is refused alike, in a batch that grants another request', async () => {
    const billingAccountId = uniq('acc');
    await openWallet(billingAccountId);
    await topup(svc, billingAccountId, '10.00');
    const long = request(`acc_${'x'.repeat(60)}`);
    const granted = request(billingAccountId);
    const replies = await dbOf(svc).tx((sql) => reserveMany(sql, [long, granted, { ...long }], T0));
    expect(replies).toMatchObject([{ resultCode: 'USER_UNKNOWN', error: { code: 'WALLET_NOT_FOUND' } }, { resultCode: 'SUCCESS' }, { resultCode: 'USER_UNKNOWN', error: { code: 'WALLET_NOT_FOUND' } }]);
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId: replies[1]!.reservationId!, usedUnits: '0', closing: 'RELEASED' }], T0));
  });
});
