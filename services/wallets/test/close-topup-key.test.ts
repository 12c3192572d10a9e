// closeTopupKey: what a top-up key stands for, settled before money goes back where it came from
// (the Recharge workflow calls it before it refunds a card whose credit wallets refused). It
// answers the top-up made under the key, or closes the key so that none is ever made under it;
// a top-up racing the close either lands and is answered, or is refused: never both, never lost.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { balanceOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const CLOSE = `mutation($i: CloseTopupKeyInput!) { closeTopupKey(input: $i) { topupBalance { id amount { amount currency } reference } } }`;
const TOPUP = `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`;
const LEDGER = `query($a: ID!) { ledgerEntries(billingAccountId: $a) { edges { node { id } } } }`;
const credit = (billingAccountId: string, key: string, amount = '5.00') => ({ billingAccountId, amount: { amount, currency: 'EUR' }, idempotencyKey: key, reference: 'rch_1' });

describe('closeTopupKey', () => {
  it('answers the top-up made under the key, the same each time, and moves no money', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const key = uniq('key');
    const made = (await gql(svc, TOPUP, { i: credit(billingAccountId, key) })).topupBalance.topupBalance.id;

    for (let i = 0; i < 2; i++) {
      const closed = (await gql(svc, CLOSE, { i: { billingAccountId, idempotencyKey: key } })).closeTopupKey;
      expect(closed).toEqual({ topupBalance: { id: made, amount: { amount: '5', currency: 'EUR' }, reference: 'rch_1' } });
    }
    // The top-up's own retry still replays it.
    expect((await gql(svc, TOPUP, { i: credit(billingAccountId, key) })).topupBalance.topupBalance.id).toBe(made);
    expect(await balanceOf(svc, walletId)).toBe('5');
  });

  it('no top-up under the key: answers null, and a top-up under it afterwards is refused; the ledger shows nothing', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const key = uniq('key');
    const before = (await gql(svc, LEDGER, { a: billingAccountId })).ledgerEntries.edges.length;

    expect((await gql(svc, CLOSE, { i: { billingAccountId, idempotencyKey: key } })).closeTopupKey).toEqual({ topupBalance: null });
    const late = await svc.request<any>(TOPUP, { i: credit(billingAccountId, key) });
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await gql(svc, CLOSE, { i: { billingAccountId, idempotencyKey: key } })).closeTopupKey).toEqual({ topupBalance: null });
    expect(await balanceOf(svc, walletId)).toBe('0');
    expect((await gql(svc, LEDGER, { a: billingAccountId })).ledgerEntries.edges).toHaveLength(before);
  });

  it('a top-up racing the close of its key: either it lands and the close answers it, or it is refused and the close answers null', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const keys = Array.from({ length: 12 }, () => uniq('key'));
    const outcomes = await Promise.all(
      keys.map(async (key) => {
        const [topup, close] = await Promise.all([svc.request<any>(TOPUP, { i: credit(billingAccountId, key) }), svc.request<any>(CLOSE, { i: { billingAccountId, idempotencyKey: key } })]);
        expect(close.errors).toBeUndefined();
        return { credited: topup.data?.topupBalance?.topupBalance?.id ?? null, answered: close.data.closeTopupKey.topupBalance?.id ?? null };
      }),
    );
    for (const o of outcomes) expect(o.answered, JSON.stringify(outcomes)).toBe(o.credited);
    const landed = outcomes.filter((o) => o.credited).length;
    expect(await balanceOf(svc, walletId)).toBe(String(5 * landed));
  });

  it('staff only; the key names the field when it is too short; the key is the account\'s: closing it on another account closes that account\'s key only', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const customer: Caller = { role: 'CUSTOMER', subject: 'c1', customerId: uniq('cus'), scopes: [] };
    const forbidden = await svc.request<any>(CLOSE, { i: { billingAccountId, idempotencyKey: uniq('key') } }, customer);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const short = await svc.request<any>(CLOSE, { i: { billingAccountId, idempotencyKey: 'k' } });
    expect(short.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.idempotencyKey' });

    const key = uniq('key');
    await gql(svc, TOPUP, { i: credit(billingAccountId, key) });
    const { billingAccountId: other } = await openPrepaid(svc);
    // Keys are per billing account (idempotency-key-scope.test.ts): the other account never topped up under it.
    const elsewhere = await svc.request<any>(CLOSE, { i: { billingAccountId: other, idempotencyKey: key } });
    expect({ errors: elsewhere.errors ?? null, data: elsewhere.data }).toEqual({ errors: null, data: { closeTopupKey: { topupBalance: null } } });
    expect((await gql(svc, CLOSE, { i: { billingAccountId, idempotencyKey: key } })).closeTopupKey.topupBalance).not.toBeNull();
  });
});
