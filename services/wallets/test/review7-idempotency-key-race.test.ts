// Review 7: an idempotency key reused with other input is a CONFLICT (IDEMPOTENCY_KEY_REUSED)
// whatever the timing. Sent one after the other it is; sent at the same time, each request locked only
// its own wallet (requireWallet / walletById), both found the key unused (findTransaction) and both
// inserted it: the second failed on ledger_transaction's unique key and the caller got
// INTERNAL_SERVER_ERROR (a raw PostgreSQL error), not a coded error it can act on.
// Keys are now the billing account's (idempotency-key-scope.test.ts): two accounts using one key at
// the same time each get their own result; two requests of one account with other input at the same
// time are one result and one CONFLICT, never INTERNAL_SERVER_ERROR.
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

describe('an idempotency key reused at the same time', () => {
  /** One round: [two requests of one account with other input at once, two accounts' requests at once], as codes. */
  const race = (send: (target: 'a' | 'b', variant: 0 | 1, key: string) => Promise<Res>) => async () => {
    const key = uniq('key');
    const sameAccount = codes(await Promise.all([send('a', 0, key), send('a', 1, key)]));
    const key2 = uniq('race2');
    const twoAccounts = codes(await Promise.all([send('a', 0, key2), send('b', 0, key2)]));
    return { sameAccount, twoAccounts };
  };
  const expectRounds = (seen: { sameAccount: string[]; twoAccounts: string[] }[]) => {
    for (const round of seen) {
      expect(round.sameAccount.filter((c) => c === 'OK'), JSON.stringify(seen)).toHaveLength(1);
      expect(round.sameAccount.filter((c) => c !== 'OK'), JSON.stringify(seen)).toEqual(['CONFLICT:IDEMPOTENCY_KEY_REUSED']);
      expect(round.twoAccounts, JSON.stringify(seen)).toEqual(['OK', 'OK']);
    }
  };

  it('topupBalance: of one account\'s two, one top-up and one CONFLICT; two accounts both topped up (never INTERNAL_SERVER_ERROR)', async () => {
    const seen = await inRounds(6, async () => {
      const w = { a: await openPrepaid(svc), b: await openPrepaid(svc) };
      return race((t, v, key) => svc.request(TOPUP, { i: { billingAccountId: w[t].billingAccountId, amount: { amount: v ? '11.00' : '10.00', currency: 'EUR' }, idempotencyKey: key, reference: 'race' } }) as Promise<Res>)();
    });
    expectRounds(seen);
    await expectInvariants(svc);
  }, 120_000);

  it('adjustBalance: of one wallet\'s two, one adjustment and one CONFLICT; two wallets both adjusted (never INTERNAL_SERVER_ERROR)', async () => {
    const seen = await inRounds(6, async () => {
      const w = { a: await openPrepaid(svc, { balance: '10.00' }), b: await openPrepaid(svc, { balance: '10.00' }) };
      return race((t, v, key) => svc.request(ADJUST, { i: { walletId: w[t].walletId, amount: { amount: v ? '2.00' : '1.00', currency: 'EUR' }, reason: 'goodwill', idempotencyKey: key } }) as Promise<Res>)();
    });
    expectRounds(seen);
    await expectInvariants(svc);
  }, 120_000);

  it('redeemVoucher: one account redeeming two vouchers under one key at once: one redeemed, the other CONFLICT; two accounts each redeem theirs', async () => {
    const credited: string[][] = [];
    const expiresAt = new Date(Date.now() + 365 * 86_400_000).toISOString();
    const seen = await inRounds(6, async () => {
      const w = { a: await openPrepaid(svc), b: await openPrepaid(svc) };
      // a's race: vouchers 0 and 1 under one key; the two accounts' race: a voucher 2, b voucher 3.
      const vouchers = await Promise.all([0, 1, 2, 3].map(async () => (await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '15.00', currency: 'EUR' }, expiresAt } })).issueVoucher.code as string));
      const round = await race((t, v, key) => {
        const code = t === 'b' ? vouchers[3]! : key.startsWith('race2') ? vouchers[2]! : vouchers[v]!;
        return svc.request(REDEEM, { i: { billingAccountId: w[t].billingAccountId, code, idempotencyKey: key } }) as Promise<Res>;
      })();
      credited.push([await balanceOf(svc, w.a.walletId), await balanceOf(svc, w.b.walletId)]);
      return round;
    });
    expectRounds(seen);
    // a: one of its first two vouchers and voucher 2; b: voucher 3.
    expect(credited, JSON.stringify({ seen, credited })).toEqual(seen.map(() => ['30', '15']));
    await expectInvariants(svc);
  }, 120_000);
});
