import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ok, openAccount, publishCatalog, startTestSystem, type System, freshMsisdn } from './harness';
const msisdn0 = freshMsisdn();
const msisdn1 = freshMsisdn();
const msisdn2 = freshMsisdn();

/**
 * Billing situations through the gateway, with every service, NATS, PostgreSQL and the Temporal
 * worker running: a family sharing a plan, and a prepaid customer recharging by card.
 */
describe('accounts and balances, end to end', () => {
  let system: System;

  beforeAll(async () => {
    system = await startTestSystem();
    await publishCatalog(system);
  });
  afterAll(() => system?.stop());

  const account = (paymentMode: 'PREPAID' | 'POSTPAID', name: string, extra: Record<string, unknown> = {}) => openAccount(system, paymentMode, name, extra);

  it('a family account with three lines on a shared plan reads back in one query across subgraphs', async () => {
    const { accountId } = await account('POSTPAID', 'The Müllers', { creditLimit: '300.00' });
    for (const msisdn of [msisdn0, msisdn1, msisdn2]) {
      ok(await system.graphql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: accountId, msisdn, planCode: 'FAMILY_SHARE_50GB' } }));
    }
    const query = `query($id: ID!) { billingAccount(id: $id) {
      paymentMode
      lines { msisdn status subscription { planCode sharedAllowances planVersion { version plan { code currency } } } usage { period periodStart periodEnd } }
      wallets { balance { amount currency } }
      buckets { allowanceId unit initialQuantity shared validFrom validTo }
    } }`;
    const data = await eventually(async () => {
      const d = ok(await system.graphql(query, { id: accountId }));
      // Until usage has the subscription it shows the calendar month (from the 1st at midnight, a
      // moment no subscription here starts at).
      const usageKnowsPlans = d.billingAccount.lines.every((l: { usage: { periodStart: string } }) => !/-01T00:00:00\.000Z$/.test(l.usage.periodStart));
      return d.billingAccount.wallets.length > 0 && d.billingAccount.buckets.length > 0 && usageKnowsPlans ? d : null;
    }, 'the wallets service to open the wallet and grant the plan allowances, and usage to learn the subscriptions, from subscriber events');
    const acc = data.billingAccount;
    expect(acc.paymentMode).toBe('POSTPAID');
    expect(acc.lines).toHaveLength(3);
    for (const line of acc.lines) {
      expect(line.status).toBe('ACTIVE');
      // subscribers owns the subscription, catalog resolves the pinned version, usage adds live usage.
      expect(line.subscription).toMatchObject({ planCode: 'FAMILY_SHARE_50GB', sharedAllowances: true, planVersion: { version: 1, plan: { code: 'FAMILY_SHARE_50GB', currency: 'EUR' } } });
      expect(line.usage.period).toBe(line.usage.periodStart.slice(0, 10));
    }
    // Usage counts in the periods wallets grants buckets for: the pool runs from the first line's
    // subscription, and that line's live-usage period is the pool bucket's validity.
    const pool = acc.buckets.find((b: { shared: boolean; unit: string }) => b.shared && b.unit === 'MB');
    const first = [...acc.lines].sort((a, b) => a.usage.periodStart.localeCompare(b.usage.periodStart))[0];
    expect([first.usage.periodStart, first.usage.periodEnd]).toEqual([pool.validFrom, pool.validTo]);
    expect(acc.wallets).toEqual([{ balance: { amount: '0', currency: 'EUR' } }]);
    expect(acc.buckets.some((b: { shared: boolean; unit: string }) => b.shared && b.unit === 'MB')).toBe(true);
  });

  it('a card recharge runs the Temporal recharge workflow and credits the prepaid wallet exactly once', async () => {
    const { accountId } = await account('PREPAID', 'Prepaid Pia');
    await eventually(async () => ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { id } } }', { id: accountId })).billingAccount.wallets[0], 'the prepaid wallet');
    const recharge = (key: string) =>
      system.graphql('mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id status workflowId } } }', {
        i: { billingAccountId: accountId, amount: { amount: '20.00', currency: 'EUR' }, method: 'CARD', paymentMethodToken: 'sandbox_approve', idempotencyKey: key },
      });
    const first = ok(await recharge('e2e-recharge-1')).recharge.recharge;
    expect(first.workflowId).toMatch(/^recharge-/);
    const again = ok(await recharge('e2e-recharge-1')).recharge.recharge;
    expect(again.id).toBe(first.id);

    const balance = await eventually(async () => {
      const d = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { balance { amount } } } }', { id: accountId }));
      const amount = d.billingAccount.wallets[0].balance.amount as string;
      return Number(amount) > 0 ? amount : null;
    }, 'the recharge workflow to credit the wallet', 60_000);
    expect(balance).toMatch(/^20(\.0+)?$/);
    // Still 20 a moment later: the repeated request did not start a second credit.
    await new Promise((r) => setTimeout(r, 2000));
    const later = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { balance { amount } } } }', { id: accountId }));
    expect(later.billingAccount.wallets[0].balance.amount).toMatch(/^20(\.0+)?$/);
  });
});
