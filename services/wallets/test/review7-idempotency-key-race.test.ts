// Review 7: an idempotency key reused with other input is a CONFLICT (IDEMPOTENCY_KEY_REUSED)
// whatever the timing. Sent one after the other it is; sent at the same time for two accounts,
// each request locks only its own wallet (requireWallet / walletById), both find the key unused
// (findTransaction) and both insert it: the second fails on ledger_transaction's unique key and
// the caller gets INTERNAL_SERVER_ERROR (a raw PostgreSQL error), not a coded error it can act on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { balanceOf, expectInvariants, gql, inRounds, openPrepaid, outcomeOf, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

const TOPUP = `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`;
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id } } }`;
const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code } }`;
const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id } } }`;

type Res = { errors?: { extensions?: { code?: string; reason?: string } }[] };
const codes = (rs: Res[]) => rs.map(outcomeOf);

describe('an idempotency key reused at the same time with other input', () => {
  it('topupBalance: one of two accounts gets the top-up, the other CONFLICT (never INTERNAL_SERVER_ERROR)', async () => {
    const seen = await inRounds(6, async () => {
      const a = await openPrepaid(svc);
      const b = await openPrepaid(svc);
      const key = uniq('key');
      return codes(await Promise.all([a, b].map((w) => svc.request(TOPUP, { i: { billingAccountId: w.billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: key, reference: 'race' } }) as Promise<Res>)));
    });
    for (const round of seen) {
      expect(round.filter((c) => c === 'OK'), JSON.stringify(seen)).toHaveLength(1);
      expect(round.filter((c) => c !== 'OK').every((c) => c.startsWith('CONFLICT')), JSON.stringify(seen)).toBe(true);
    }
    await expectInvariants(svc);
  }, 120_000);

  it('adjustBalance: one of two wallets gets the adjustment, the other CONFLICT (never INTERNAL_SERVER_ERROR)', async () => {
    const seen = await inRounds(6, async () => {
      const a = await openPrepaid(svc, { balance: '10.00' });
      const b = await openPrepaid(svc, { balance: '10.00' });
      const key = uniq('key');
      return codes(await Promise.all([a, b].map((w) => svc.request(ADJUST, { i: { walletId: w.walletId, amount: { amount: '1.00', currency: 'EUR' }, reason: 'goodwill', idempotencyKey: key } }) as Promise<Res>)));
    });
    for (const round of seen) {
      expect(round.filter((c) => c === 'OK'), JSON.stringify(seen)).toHaveLength(1);
      expect(round.filter((c) => c !== 'OK').every((c) => c.startsWith('CONFLICT')), JSON.stringify(seen)).toBe(true);
    }
    await expectInvariants(svc);
  }, 120_000);

  it('redeemVoucher: two accounts each redeeming their own voucher under one key: one redeemed, the other CONFLICT', async () => {
    // The redemption's own locks are the account's (attempts) and the voucher's row: two accounts
    // with two vouchers share neither, and both reached the VOUCHER:<key> insert.
    const credited: string[][] = [];
    const expiresAt = new Date(Date.now() + 365 * 86_400_000).toISOString();
    const seen = await inRounds(6, async () => {
      const a = await openPrepaid(svc);
      const b = await openPrepaid(svc);
      const codes2 = await Promise.all([a, b].map(async () => (await gql(svc, ISSUE, { i: { amount: { amount: '15.00', currency: 'EUR' }, expiresAt } })).issueVoucher.code as string));
      const key = uniq('key');
      const rs = await Promise.all([a, b].map((w, k) => svc.request(REDEEM, { i: { billingAccountId: w.billingAccountId, code: codes2[k], idempotencyKey: key } }) as Promise<Res>));
      credited.push([await balanceOf(svc, a.walletId), await balanceOf(svc, b.walletId)]);
      return codes(rs);
    });
    for (const [i, round] of seen.entries()) {
      expect(round.filter((c) => c === 'OK'), JSON.stringify(seen)).toHaveLength(1);
      expect(round.filter((c) => c !== 'OK'), JSON.stringify(seen)).toEqual(['CONFLICT:IDEMPOTENCY_KEY_REUSED']);
      // Only the redeemed voucher's account was credited.
      expect(credited[i]!.map((bal, k) => (round[k] === 'OK' ? bal === '15' : bal === '0')), JSON.stringify({ seen, credited })).toEqual([true, true]);
    }
    await expectInvariants(svc);
  }, 120_000);
});
