// review31: issueVoucher took no idempotency key: a retried call (its answer lost) minted a second voucher, and the
// code never received stayed redeemable until it expired. It now takes one (CONVENTIONS 5, as the other money
// mutations here): the same issuer's retry under the key answers the same voucher and the same code; other input
// under the key is CONFLICT IDEMPOTENCY_KEY_REUSED; another issuer's key is its own.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id amount { amount currency } expiresAt status } } }`;
const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { wallet { balance { amount } } } }`;
const ADMIN_2: Caller = { role: 'ADMIN', subject: uniq('admin'), scopes: [] };
const input = (idempotencyKey: string, over: Record<string, unknown> = {}) => ({ amount: { amount: '15.00', currency: 'EUR' }, expiresAt: '2030-01-01T00:00:00.000Z', idempotencyKey, ...over });
const vouchersOf = async (ids: string[]) => (await dbOf(svc).query<{ n: string }>(`select count(*) n from voucher where id = any($1::text[])`, [ids]))[0]!.n;

describe('review31: issueVoucher is idempotent by key', () => {
  it('the same key twice (also at once) is one voucher, the same code answered; it redeems once', async () => {
    const key = uniq('vkey');
    const first = (await gql(svc, ISSUE, { i: input(key) })).issueVoucher;
    const again = await Promise.all([0, 1, 2].map(async () => (await gql(svc, ISSUE, { i: input(key, { amount: { amount: '15.000', currency: 'EUR' } }) })).issueVoucher));
    expect(again).toEqual([first, first, first]);
    expect(await vouchersOf([first.voucher.id])).toBe('1');
    const { billingAccountId } = await openPrepaid(svc);
    const redeemed = await gql(svc, REDEEM, { i: { billingAccountId, code: first.code, idempotencyKey: uniq('key') } });
    expect(redeemed.redeemVoucher.wallet.balance.amount).toBe('15');
    // Answered again after the redemption: the same voucher, now REDEEMED.
    expect((await gql(svc, ISSUE, { i: input(key) })).issueVoucher).toMatchObject({ code: first.code, voucher: { id: first.voucher.id, status: 'REDEEMED' } });
  });

  it('other input under the key is CONFLICT IDEMPOTENCY_KEY_REUSED; another issuer under the key gets its own voucher', async () => {
    const key = uniq('vkey');
    const first = (await gql(svc, ISSUE, { i: input(key) })).issueVoucher;
    for (const over of [{ amount: { amount: '16.00', currency: 'EUR' } }, { amount: { amount: '15.00', currency: 'USD' } }, { expiresAt: '2030-01-02T00:00:00.000Z' }]) {
      const res = await svc.request(ISSUE, { i: input(key, over) });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    }
    const other = await svc.request<any>(ISSUE, { i: input(key) }, ADMIN_2);
    expect(other.errors).toBeUndefined();
    expect(other.data.issueVoucher.voucher.id).not.toBe(first.voucher.id);
    expect(other.data.issueVoucher.code).not.toBe(first.code);
  });

  it('a key is required, 8 to 200 characters', async () => {
    const missing = await svc.request(ISSUE, { i: { amount: { amount: '15.00', currency: 'EUR' }, expiresAt: '2030-01-01T00:00:00.000Z' } });
    expect(missing.errors?.[0]?.message).toContain('idempotencyKey');
    const short = await svc.request(ISSUE, { i: input('short') });
    expect(short.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });
  });
});
