// Charging reads whether a wallet has a balance rule (enabled budget or auto top-up) and its budget's
// committed amount from the wallet row, which triggers on the rule tables keep (migration
// 20261205000000). Here: every way a rule changes moves the flags, and a charge acts on them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { APPLY, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets } from './support';
import { checkLedgerInvariants } from '../src/persistence/invariants';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id } } }`;
const SET_AUTO_TOPUP = `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { autoTopup { enabled } } } }`;
const flags = async (walletId: string) =>
  (await dbOf(svc).query<{ budget_committed: string | null; has_balance_rules: boolean }>(`select budget_committed::text, has_balance_rules from wallet where id = $1`, [walletId]))[0];

describe('wallet rule flags', () => {
  it('follow an auto top-up rule set, disabled, enabled again and deleted', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '100.00' });
    expect(await flags(walletId)).toEqual({ budget_committed: null, has_balance_rules: false });
    const rule = (enabled: boolean) => ({ walletId, enabled, threshold: '30.00', topupAmount: '50.00', paymentMethodToken: 'tok_visa' });
    await gql(svc, SET_AUTO_TOPUP, { i: rule(true) });
    expect(await flags(walletId)).toEqual({ budget_committed: null, has_balance_rules: true });
    await gql(svc, SET_AUTO_TOPUP, { i: rule(false) });
    expect(await flags(walletId)).toEqual({ budget_committed: null, has_balance_rules: false });
    await gql(svc, SET_AUTO_TOPUP, { i: rule(true) });
    await dbOf(svc).query(`delete from auto_topup_rule where wallet_id = $1`, [walletId]);
    expect(await flags(walletId)).toEqual({ budget_committed: null, has_balance_rules: false });
  });

  it('follow a budget set, changed and disabled; a replenishment (its count changes) leaves them', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const budget = (committed: string, enabled = true) => ({ billingAccountId, committed: { amount: committed, currency: 'EUR' }, threshold: '20.00', enabled });
    await gql(svc, SET_BUDGET, { i: budget('100.00') });
    expect(await flags(walletId)).toEqual({ budget_committed: '100.000000', has_balance_rules: true });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '85', pricePerUnit: '1.00' }) }); // below the threshold: replenished
    expect(await balanceOf(svc, walletId)).toBe('115');
    await gql(svc, SET_BUDGET, { i: budget('150.00') });
    expect(await flags(walletId)).toEqual({ budget_committed: '150.000000', has_balance_rules: true });
    await gql(svc, SET_BUDGET, { i: budget('150.00', false) });
    expect(await flags(walletId)).toEqual({ budget_committed: null, has_balance_rules: false });
  });

  it('a flag out of step with the rule tables is reported by the invariant checker', async () => {
    const { walletId } = await openPrepaid(svc);
    await dbOf(svc).query(`update wallet set has_balance_rules = true where id = $1`, [walletId]);
    expect((await checkLedgerInvariants(dbOf(svc))).join('\n')).toContain(walletId);
    await dbOf(svc).query(`update wallet set has_balance_rules = false where id = $1`, [walletId]);
  });
});
