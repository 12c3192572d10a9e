// Gaps 8: a committed-spend budget does not cut a charge short. A budget wallet is replenished
// with the committed amount as soon as its unspent money falls below the threshold, in the same
// transaction as the charge; a single charge bigger than the balance was still cut to what the
// balance held (PARTIAL, or DENIED at 0) although the budget refilled right after.
//
// Rule now (domain/charging.ts `headroom`): a budget wallet's headroom for a charge is its balance
// plus the next replenishment (the committed amount, which the budget has not yet drawn). The
// replenishment that follows brings the negative balance back (as many replenishments as it takes
// to reach the threshold: never more than two). Real PostgreSQL; the ledger invariants hold after each test.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { APPLY, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id replenishmentCount } } }`;

async function budgetWallet(committed: string, threshold: string) {
  const w = await openPrepaid(svc);
  await gql(svc, SET_BUDGET, { i: { billingAccountId: w.billingAccountId, committed: { amount: committed, currency: 'EUR' }, threshold } });
  return w;
}

async function replenishments(billingAccountId: string) {
  return dbOf(svc).query<{ sequence: number; amount: string; remaining: string }>(`select sequence, amount::text, remaining::text from budget_replenishment where billing_account_id = $1 order by sequence`, [billingAccountId]);
}

async function receivable(billingAccountId: string): Promise<string> {
  const [a] = await dbOf(svc).query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [`${billingAccountId}:BUDGET_RECEIVABLE:EUR`]);
  return a!.balance;
}

const apply = async (billingAccountId: string, units: string) => (await gql(svc, APPLY, { i: charge(billingAccountId, { units, pricePerUnit: '1.00' }) })).applyCharge.result;

describe('committed-spend budget headroom', () => {
  it('a charge bigger than the balance but within the next replenishment is applied in full and replenished once', async () => {
    const { billingAccountId, walletId } = await budgetWallet('100', '20'); // funded: 100
    expect(await apply(billingAccountId, '70')).toMatchObject({ outcome: 'APPLIED', amountCharged: { amount: '70' } }); // 30
    // 110 > 30: applied, −80, replenished +100 → 20 (at the threshold: no second one).
    expect(await apply(billingAccountId, '110')).toMatchObject({ outcome: 'APPLIED', units: '110', amountCharged: { amount: '110' } });
    expect(await balanceOf(svc, walletId)).toBe('20');
    expect((await replenishments(billingAccountId)).map((r) => [r.sequence, r.amount, r.remaining])).toEqual([[1, '100.000000', '100.000000'], [2, '100.000000', '20.000000']]);
    expect(await receivable(billingAccountId)).toBe('-200.000000');
  });

  it('a used-up budget wallet still takes a charge up to one replenishment, and is replenished back over the threshold', async () => {
    const { billingAccountId, walletId } = await budgetWallet('50', '10'); // 50
    expect(await apply(billingAccountId, '45')).toMatchObject({ outcome: 'APPLIED' }); // 5 → +50 = 55
    // 55 + 50 = 105 of headroom: a charge of 120 is cut to 105 (PARTIAL), −50 → +50 = 0 → +50 = 50.
    expect(await apply(billingAccountId, '120')).toMatchObject({ outcome: 'PARTIAL', units: '105', amountCharged: { amount: '105' } });
    expect(await balanceOf(svc, walletId)).toBe('50');
    expect((await replenishments(billingAccountId)).map((r) => r.remaining)).toEqual(['50.000000', '55.000000', '0.000000', '50.000000']);
    expect(await receivable(billingAccountId)).toBe('-200.000000');
  });

  it('concurrent charges each get the balance plus one replenishment', async () => {
    const { billingAccountId, walletId } = await budgetWallet('100', '20'); // 100
    const charges = [charge(billingAccountId, { units: '80', pricePerUnit: '1.00' }), charge(billingAccountId, { units: '80', pricePerUnit: '1.00' }), charge(billingAccountId, { units: '80', pricePerUnit: '1.00' })];
    const results = await Promise.all(charges.map((c) => gql(svc, APPLY, { i: c }).then((d) => d.applyCharge.result)));
    // Whatever the order: 100 → 20 (→ 120) → 40 (→ 140) … each charge within balance + 100.
    expect(results.every((r) => r.outcome === 'APPLIED')).toBe(true);
    const balance = Number(await balanceOf(svc, walletId));
    expect(balance).toBeGreaterThanOrEqual(20);
    expect(await receivable(billingAccountId)).toBe(`-${100 * (await replenishments(billingAccountId)).length}.000000`);
  });

  it('a wallet without a budget is still cut to its balance', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    expect(await apply(billingAccountId, '110')).toMatchObject({ outcome: 'PARTIAL', units: '30' });
    expect(await balanceOf(svc, walletId)).toBe('0');
  });
});
