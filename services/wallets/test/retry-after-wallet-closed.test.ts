// A retry of a request that succeeded gets its original answer, whatever happened since (rule 5:
// same key + same input → same result). A client that lost the answer to its voucher redemption
// and retried with the same key after the account had closed got CONFLICT WALLET_CLOSED: redeemVoucher
// refused a closed account before it looked the key up, so the customer was told the voucher was not
// redeemed while it was (REDEEMED, its money on the wallet). The key is now looked up first; a new
// redemption on the closed account is still refused WALLET_CLOSED, and counts as no wrong code.
// The other keyed mutations (top-up, bank transfer recharge, adjustment, grant, reservation) are
// retried the same way after the close and after the settlement: each answers its first result.
//
// Runs on a private nats-server: the close is subscribers' billingaccount.closed event.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { runWalletJobs } from '../src/jobs/jobs';
import { CLOSED_AT, FINAL_AT, T0, balanceOf, closeAccountAndWait, dbOf, expectInvariants, gql, openPrepaid, outcomeOf, startWalletsOnPrivateNats, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, clock, stop } = await startWalletsOnPrivateNats());
}, 60_000);
afterAll(async () => stop?.());
afterEach(async () => expectInvariants(svc));

const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id amount { amount currency } channel createdAt } } }`;
const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id } } }`;
const TOPUP = `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id amount { amount } createdAt } } }`;
const RECHARGE = `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id status } } }`;
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id } } }`;
const GRANT = `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`;
const RESERVE = `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } } }`;

type Answer = { data?: any; errors?: readonly { extensions?: { code?: string; reason?: string } }[] };
/** The answer as compared: its data, or `code:reason` of its error. */
const answerOf = (r: Answer) => (r.errors ? outcomeOf(r) : r.data);

describe('a retry after the wallet closed gets the original answer', () => {
  it('redeemVoucher retried with its own key after the close and after the settlement: the first top-up', async () => {
    clock.set(T0);
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const v = (await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '15.00', currency: 'EUR' }, expiresAt: new Date(T0.getTime() + 30 * 86_400_000).toISOString() } })).issueVoucher;
    const input = { billingAccountId, code: v.code, idempotencyKey: uniq('key') };
    const first = await svc.request<any>(REDEEM, { i: input });
    expect(first.errors).toBeUndefined();
    await closeAccountAndWait(svc, billingAccountId, walletId, CLOSED_AT);
    const attempts = async () => Number((await dbOf(svc).query<{ n: string }>(`select count(*) n from voucher_attempt where billing_account_id = $1`, [billingAccountId]))[0]!.n);
    const attemptsBefore = await attempts();

    // Before: CONFLICT WALLET_CLOSED, for a redemption that was made.
    const afterClose = await svc.request<any>(REDEEM, { i: input });
    // The same key with another code is not a replay; a new redemption is refused as the wallet is closed.
    const otherCode = await svc.request<any>(REDEEM, { i: { ...input, code: 'AAAA-BBBB-CCCC-DDDD-EEEE' } });
    const newKey = await svc.request<any>(REDEEM, { i: { ...input, idempotencyKey: uniq('key') } });
    clock.set(new Date(FINAL_AT.getTime() + 60_000));
    expect((await runWalletJobs(dbOf(svc), clock.now())).walletsSettled).toBeGreaterThanOrEqual(1);
    const afterSettle = await svc.request<any>(REDEEM, { i: input });

    const seen = {
      afterClose: answerOf(afterClose),
      afterSettle: answerOf(afterSettle),
      otherCode: answerOf(otherCode),
      newKey: answerOf(newKey),
      attemptsCounted: (await attempts()) - attemptsBefore,
      balance: await balanceOf(svc, walletId),
      voucher: (await dbOf(svc).query(`select status from voucher where id = $1`, [v.voucher.id]))[0]?.status,
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      afterClose: first.data,
      afterSettle: first.data,
      otherCode: 'CONFLICT:IDEMPOTENCY_KEY_REUSED',
      newKey: 'CONFLICT:WALLET_CLOSED',
      attemptsCounted: 0,
      balance: '25',
      voucher: 'REDEEMED',
    });
  }, 45_000);

  it('topUp, recharge, adjustBalance, grantBucket and reserveBalance retried after the close and after the settlement: the first answers', async () => {
    clock.set(T0);
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const requests: [string, string, Record<string, unknown>][] = [
      ['topupBalance', TOPUP, { billingAccountId, amount: { amount: '5.00', currency: 'EUR' }, idempotencyKey: uniq('key'), reference: 'retry' }],
      ['recharge', RECHARGE, { billingAccountId, amount: { amount: '7.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: uniq('key') }],
      ['adjustBalance', ADJUST, { walletId, amount: { amount: '2.00', currency: 'EUR' }, reason: 'goodwill', idempotencyKey: uniq('key') }],
      ['grantBucket', GRANT, { billingAccountId, allowanceId: 'data', unit: 'MB', quantity: '100', validFrom: T0.toISOString(), validTo: new Date(T0.getTime() + 30 * 86_400_000).toISOString(), grantKey: uniq('grant') }],
      ['reserveBalance', RESERVE, { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '1', pricePerUnit: '1.00', allowanceIds: [] }],
    ];
    const first: Record<string, unknown> = {};
    for (const [name, query, input] of requests) first[name] = answerOf(await svc.request<any>(query, { i: input }));
    const retried = async () => {
      const out: Record<string, unknown> = {};
      for (const [name, query, input] of requests) out[name] = answerOf(await svc.request<any>(query, { i: input }));
      return out;
    };
    await closeAccountAndWait(svc, billingAccountId, walletId, CLOSED_AT);
    const afterClose = await retried();
    clock.set(new Date(FINAL_AT.getTime() + 60_000));
    expect((await runWalletJobs(dbOf(svc), clock.now())).walletsSettled).toBeGreaterThanOrEqual(1);
    const afterSettle = await retried();
    expect(Object.values(first).filter((a) => typeof a === 'string'), JSON.stringify(first)).toEqual([]);
    expect({ afterClose, afterSettle }).toEqual({ afterClose: first, afterSettle: first });
  }, 45_000);
});
