// Review 7, further findings. A voucher redemption retried with its own idempotency key (the
// client lost the answer) after the account reached 5 wrong codes got VOUCHER_ATTEMPTS_EXCEEDED,
// as if the retry were a guess: the attempts check ran before the key was looked up. The stored
// result of that key is the answer; a guess is still refused.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { balanceOf, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id amount { amount } } } }`;
const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code } }`;
const reason = (r: { errors?: { extensions?: { reason?: string } }[] }) => r.errors?.[0]?.extensions?.reason ?? null;

describe('voucher redemption replayed after the attempts limit', () => {
  it('the retry with its own key answers the stored top-up; a new guess is still refused', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const expiresAt = new Date(clock.now().getTime() + 86_400_000).toISOString();
    const { code } = (await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '15.00', currency: 'EUR' }, expiresAt } })).issueVoucher;
    const key = uniq('key');
    const first = (await gql(svc, REDEEM, { i: { billingAccountId, code, idempotencyKey: key } })).redeemVoucher.topupBalance;
    for (let i = 0; i < 5; i++) {
      const wrong = await svc.request<any>(REDEEM, { i: { billingAccountId, code: `AAAA-BBBB-CCCC-DDDD-${String(i).padStart(4, 'X')}`, idempotencyKey: uniq('key') } });
      expect(reason(wrong)).toBe('VOUCHER_NOT_FOUND');
    }
    const replay = await svc.request<any>(REDEEM, { i: { billingAccountId, code, idempotencyKey: key } });
    expect({ error: reason(replay), topup: replay.data?.redeemVoucher?.topupBalance ?? null }).toEqual({ error: null, topup: first });
    expect(await balanceOf(svc, walletId)).toBe('15');
    // The key with another code is not a replay: a conflict, and not a guess that is tried.
    const otherCode = await svc.request<any>(REDEEM, { i: { billingAccountId, code: 'AAAA-BBBB-CCCC-DDDD-EEEE', idempotencyKey: key } });
    expect(reason(otherCode)).toBe('IDEMPOTENCY_KEY_REUSED');
    // A new key is a new try: still past the limit.
    const guess = await svc.request<any>(REDEEM, { i: { billingAccountId, code, idempotencyKey: uniq('key') } });
    expect(reason(guess)).toBe('VOUCHER_ATTEMPTS_EXCEEDED');
    const failed = await dbOf(svc).query<{ n: string }>(`select count(*) as n from voucher_attempt where billing_account_id = $1 and not succeeded`, [billingAccountId]);
    expect(Number(failed[0]!.n)).toBe(5);
  }, 60_000);
});
