// Vouchers under concurrency (found in review, ninth session): guesses sent together all got
// tried past the limit; a retry that waited for the first redemption was refused and counted as a
// wrong guess; the key of one account's redemption answered another account with the first's wallet.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { balanceOf, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id amount { amount } } wallet { balance { amount } } } }`;
const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id } } }`;

describe('voucher guessing limit', () => {
  it('at most 5 wrong codes per account per 15 minutes, also when the guesses arrive together', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const guesses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => svc.request(REDEEM, { i: { billingAccountId, code: `AAAA-BBBB-CCCC-DDDD-${String(i).padStart(4, 'X')}`, idempotencyKey: uniq('key') } })),
    );
    const reasons = guesses.map((g) => g.errors?.[0]?.extensions?.reason);
    // Every guess fails; but only MAX_FAILED_ATTEMPTS (5) may be tried, the rest must be VOUCHER_ATTEMPTS_EXCEEDED.
    expect(reasons.filter((r) => r === 'VOUCHER_NOT_FOUND').length).toBe(5);
    expect(reasons.filter((r) => r === 'VOUCHER_ATTEMPTS_EXCEEDED').length).toBe(15);
  });
});

describe('voucher idempotent retry', () => {
  it('the same redemption sent twice at once (a client retry) answers the same top-up, not VOUCHER_ALREADY_USED', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const later = new Date(clock.now().getTime() + 86_400_000).toISOString();
    const v = await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '15.00', currency: 'EUR' }, expiresAt: later } });
    const key = uniq('key');
    const both = await Promise.all([0, 1, 2, 3].map(() => svc.request(REDEEM, { i: { billingAccountId, code: v.issueVoucher.code, idempotencyKey: key } })));
    expect(await balanceOf(svc, walletId)).toBe('15');
    const attempts = await dbOf(svc).query<{ n: string }>(`select count(*) as n from voucher_attempt where billing_account_id = $1 and not succeeded`, [billingAccountId]);
    // Same key + same input: both answers carry the one top-up; no failed attempt is recorded against the customer.
    expect(both.map((b) => b.errors?.[0]?.extensions?.reason ?? null)).toEqual([null, null, null, null]);
    expect(Number(attempts[0]!.n)).toBe(0);
  });
});

describe('voucher idempotency key covers the account', () => {
  it('the key and code of a redemption on account A, sent for account B, is refused (not answered with A\'s top-up and A\'s wallet)', async () => {
    const a = await openPrepaid(svc);
    const b = await openPrepaid(svc);
    const later = new Date(clock.now().getTime() + 86_400_000).toISOString();
    const v = await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '15.00', currency: 'EUR' }, expiresAt: later } });
    const key = uniq('key');
    await gql(svc, REDEEM, { i: { billingAccountId: a.billingAccountId, code: v.issueVoucher.code, idempotencyKey: key } });
    const other = await svc.request<any>(`mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id billingAccountId } wallet { id balance { amount } } } }`, { i: { billingAccountId: b.billingAccountId, code: v.issueVoucher.code, idempotencyKey: key } });
    expect(await balanceOf(svc, b.walletId)).toBe('0');
    // Keys are per account (idempotency-key-scope.test.ts): for B the key is new and the code is A's, used: VOUCHER_ALREADY_USED, never A's top-up.
    expect({ error: other.errors?.[0]?.extensions?.reason ?? null, walletShown: other.data?.redeemVoucher?.wallet?.id ?? null }).toEqual({ error: expect.stringMatching(/IDEMPOTENCY_KEY_REUSED|VOUCHER_ALREADY_USED/), walletShown: null });
  });
});
