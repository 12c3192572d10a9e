// Review 7: a committed-spend budget wallet that a charge empties is replenished in the same
// transaction, yet the customer is told "Your balance is used up; service stops until you top up"
// (DEPLETED notification) and balanceDepleted is published (subscribers texts the enterprise that
// service will be cut off). emitBalanceEvents (application/balance-events.ts) judges the notices on
// the balance before replenishBudgets runs. Nothing stops: the wallet holds the committed amount.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id replenishmentCount remaining { amount } } } }`;

describe('committed-spend budget notices', () => {
  it('a charge that empties a budget wallet (replenished at once) tells nobody the service stops', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { lowBalanceThreshold: '5.00' });
    const set = (await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } })).setBudget.budget;
    expect(set).toMatchObject({ replenishmentCount: 1, remaining: { amount: '100' } });
    const r = (await gql(svc, APPLY, { i: charge(billingAccountId, { units: '100' }) })).applyCharge.result;
    expect(r).toMatchObject({ outcome: 'APPLIED', amountCharged: { amount: '100' } });
    // Replenished in the same transaction: the enterprise has its committed amount to spend.
    expect(await balanceOf(svc, walletId)).toBe('100');
    const notes = (await dbOf(svc).query<{ kind: string; message: string }>(`select kind, message from notification where wallet_id = $1 order by kind`, [walletId]));
    const events = (await dbOf(svc).query<{ subject: string }>(`select subject from outbox where payload like $1 and subject in ($2, $3)`, [`%${walletId}%`, EVENTS.balanceDepleted.subject, EVENTS.balanceLow.subject])).map((e) => e.subject);
    const seen = { notes, events };
    expect(seen.notes.map((n) => n.kind), JSON.stringify(seen)).not.toContain('DEPLETED');
    expect(seen.notes.map((n) => n.kind), JSON.stringify(seen)).not.toContain('LOW_BALANCE');
    expect(seen.events, JSON.stringify(seen)).toEqual([]);
    await expectInvariants(svc);
  }, 60_000);
});
