import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ok, openAccount, publishCatalog, startTestSystem, type System, freshMsisdn } from './harness';

/**
 * Wallets through the gateway with every service and the Temporal worker running: a customer's
 * token reaches only their own wallets (the owner comes from subscribers' account event), the
 * postpaid credit limit and the pooled shared allowance come from subscribers' events, a card
 * recharge's status follows the workflow, and an enterprise budget is visible on the account.
 */
describe('wallets features, end to end', () => {
  let system: System;

  beforeAll(async () => {
    // Wallets' job pass (renewals, expiry) every 2 s instead of 30 s, so a top-up shows within the test.
    system = await startTestSystem({ env: { WALLETS_JOB_INTERVAL_MS: '2000' } });
    await publishCatalog(system);
  });
  afterAll(() => system?.stop());

  async function account(paymentMode: 'PREPAID' | 'POSTPAID', name: string, extra: Record<string, unknown> = {}) {
    const opened = await openAccount(system, paymentMode, name, extra);
    await eventually(async () => ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { id } } }', { id: opened.accountId })).billingAccount.wallets[0], 'the wallet');
    return opened;
  }
  const customer = (customerId: string) => ({ role: 'CUSTOMER' as const, subject: `e2e-${customerId}`, customerId });
  const WALLET_OF = 'query($a: ID!) { walletOf(billingAccountId: $a, currency: "EUR") { id balance { amount } creditLimit { amount } } }';

  it('a customer recharges and reads only their own wallet; the recharge status follows the workflow', async () => {
    const alice = await account('PREPAID', 'Alice');
    const bob = await account('PREPAID', 'Bob');
    expect(ok(await system.graphql(WALLET_OF, { a: alice.accountId }, customer(alice.customerId))).walletOf.balance.amount).toBe('0');
    const refused = await system.graphql(WALLET_OF, { a: alice.accountId }, customer(bob.customerId));
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const RECHARGE = 'mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id status } } }';
    const input = (key: string) => ({ i: { billingAccountId: alice.accountId, amount: { amount: '15.00', currency: 'EUR' }, method: 'CARD', paymentMethodToken: 'sandbox_approve', idempotencyKey: key } });
    expect((await system.graphql(RECHARGE, input('e2e-wf-bob-key'), customer(bob.customerId))).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const r = ok(await system.graphql(RECHARGE, input('e2e-wf-alice-key'), customer(alice.customerId))).recharge.recharge;
    const done = await eventually(async () => {
      const s = ok(await system.graphql('query($id: ID!) { recharge(id: $id) { status failure } }', { id: r.id }, customer(alice.customerId))).recharge;
      return s.status === 'COMPLETED' ? s : null;
    }, 'the recharge to complete', 60_000);
    expect(done).toEqual({ status: 'COMPLETED', failure: null });
    expect(ok(await system.graphql(WALLET_OF, { a: alice.accountId }, customer(alice.customerId))).walletOf.balance.amount).toBe('15');

    const declined = ok(await system.graphql(RECHARGE, { i: { ...input('x').i, paymentMethodToken: 'sandbox_decline', idempotencyKey: 'e2e-wf-alice-decline' } }, customer(alice.customerId))).recharge.recharge;
    await eventually(async () => ok(await system.graphql('query($id: ID!) { recharge(id: $id) { status } }', { id: declined.id })).recharge.status === 'DECLINED', 'the decline', 60_000);
    expect(ok(await system.graphql(WALLET_OF, { a: alice.accountId })).walletOf.balance.amount).toBe('15');
  });

  it('postpaid credit limit and one pooled shared allowance come from subscribers; a budget is visible on the account', async () => {
    const family = await account('POSTPAID', 'The Schmidts', { creditLimit: '300.00' });
    expect(ok(await system.graphql(WALLET_OF, { a: family.accountId })).walletOf.creditLimit).toEqual({ amount: '300' });
    // An agent raises it in subscribers later; charging follows.
    ok(await system.graphql('mutation($i: UpdateBillingAccountInput!) { updateBillingAccount(input: $i) { changed } }', { i: { billingAccountId: family.accountId, creditLimit: '500.00' } }));
    await eventually(async () => (ok(await system.graphql(WALLET_OF, { a: family.accountId })).walletOf.creditLimit?.amount === '500' ? true : null), 'the new credit limit in wallets');
    for (const msisdn of [freshMsisdn(), freshMsisdn(), freshMsisdn()]) {
      ok(await system.graphql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: family.accountId, msisdn, planCode: 'FAMILY_SHARE_50GB' } }));
    }
    const buckets = await eventually(async () => {
      const b = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { buckets { allowanceId lineId shared } } }', { id: family.accountId })).billingAccount.buckets as { allowanceId: string; lineId: string | null; shared: boolean }[];
      return new Set(b.filter((x) => !x.shared).map((x) => x.lineId)).size === 3 ? b : null;
    }, 'the buckets of three lines', 60_000);
    const shared = buckets.filter((b) => b.shared);
    expect(shared.length).toBeGreaterThan(0);
    expect(new Set(shared.map((b) => b.allowanceId)).size).toBe(shared.length); // one bucket per shared allowance, not one per line

    const corp = await account('PREPAID', 'ACME GmbH');
    ok(await system.graphql('mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id } } }', { i: { billingAccountId: corp.accountId, committed: { amount: '1000.00', currency: 'EUR' }, threshold: '100.00' } }));
    const budget = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { budget { committed { amount } remaining { amount } replenishmentCount } } }', { id: corp.accountId })).billingAccount.budget;
    expect(budget).toEqual({ committed: { amount: '1000' }, remaining: { amount: '1000' }, replenishmentCount: 1 });
  });

  it('a prepaid bundle the balance cannot pay gives no allowances and an SMS; a top-up starts it', async () => {
    const owner = await account('PREPAID', 'Short of credit');
    const msisdn = freshMsisdn();
    const lineId = ok(await system.graphql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: owner.accountId, msisdn, planCode: 'PREPAID_BUNDLE_30D' } })).addLine.line.id as string;
    const sms = await eventually(async () => {
      const notes = ok(await system.graphql('query($id: ID!) { line(id: $id) { notifications { channel receiver template content state } } }', { id: lineId })).line.notifications as { template: string; state: string }[];
      return notes.find((n) => n.template === 'BUNDLE_FEE_DUE' && n.state === 'SENT') ?? null;
    }, 'the SMS asking for a top-up', 30_000);
    expect(sms).toEqual({ channel: 'SMS', receiver: msisdn, template: 'BUNDLE_FEE_DUE', content: 'Your bundle costs 15.00 EUR and your balance is 0.00 EUR: top up and it starts within a minute.', state: 'SENT' });
    const BUCKETS = 'query($id: ID!) { billingAccount(id: $id) { buckets { allowanceId } wallets { balance { amount } } } }';
    expect(ok(await system.graphql(BUCKETS, { id: owner.accountId })).billingAccount.buckets).toEqual([]);

    // The starter pack (4.95) waits for the top-up too, and is paid first.
    const DUE = 'query($id: ID!) { billingAccount(id: $id) { dueCharges { reason amount { amount } } } }';
    expect(await eventually(async () => ok(await system.graphql(DUE, { id: owner.accountId })).billingAccount.dueCharges[0], 'the starter pack to be due')).toEqual({ reason: 'ACTIVATION_FEE', amount: { amount: '4.95' } });
    const starterSms = await eventually(async () => {
      const notes = ok(await system.graphql('query($id: ID!) { line(id: $id) { notifications { template content state } } }', { id: lineId })).line.notifications as { template: string; content: string; state: string }[];
      return notes.find((n) => n.template === 'CHARGE_DUE' && n.state === 'SENT') ?? null;
    }, 'the SMS about the starter pack', 30_000);
    expect(starterSms.content).toBe(`Starter pack for ${msisdn}: 4.95 EUR is due and your balance is 0.00 EUR. Your next top-up pays it first.`);
    ok(await system.graphql('mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }', { i: { billingAccountId: owner.accountId, amount: { amount: '19.95', currency: 'EUR' }, idempotencyKey: `e2e-fee-${owner.accountId}`, reference: 'e2e' } }));
    expect(ok(await system.graphql(DUE, { id: owner.accountId })).billingAccount.dueCharges).toEqual([]);
    const started = await eventually(async () => {
      const a = ok(await system.graphql(BUCKETS, { id: owner.accountId })).billingAccount;
      return a.buckets.length === 3 ? a : null;
    }, 'the bundle to start after the top-up', 30_000);
    expect(started.wallets[0].balance.amount).toBe('0');
  });

  it("a plan change ends the old plan's allowances when it takes effect, and a termination ends them at once", async () => {
    const owner = await account('PREPAID', 'Plan changer');
    // The bundle (15.00 every 30 days) is paid from the balance before its allowances come.
    ok(await system.graphql('mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }', { i: { billingAccountId: owner.accountId, amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: `e2e-fee-${owner.accountId}`, reference: 'e2e' } }));
    const added = ok(await system.graphql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: owner.accountId, msisdn: freshMsisdn(), planCode: 'PREPAID_BUNDLE_30D' } }));
    const lineId = added.addLine.line.id as string;
    const BUCKETS = 'query($id: ID!) { billingAccount(id: $id) { buckets { allowanceId lineId validFrom validTo } } }';
    const bucketsOf = async () => (ok(await system.graphql(BUCKETS, { id: owner.accountId })).billingAccount.buckets as { allowanceId: string; lineId: string; validFrom: string; validTo: string }[]).filter((b) => b.lineId === lineId);
    const first = await eventually(async () => ((await bucketsOf()).length === 3 ? bucketsOf() : null), "the bundle's three allowances");
    // 30 days: the bundle's recurring fee period.
    for (const b of first) expect(new Date(b.validTo).getTime() - new Date(b.validFrom).getTime()).toBe(30 * 86_400_000);
    // 20.00 - the bundle's 15.00 - the starter pack's 4.95.
    await eventually(async () => (ok(await system.graphql(WALLET_OF, { a: owner.accountId })).walletOf.balance.amount === '0.05' ? true : null), 'the bundle fee and the starter pack taken');

    // The bundle's fee is not prorated: the change to pay-as-you-go takes effect when the 30 days it paid for end
    // (subscribers and wallets compute the same allowance period), not at the bill cycle.
    const change = ok(await system.graphql('mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { status } preview { timing effectiveAt } } }', { i: { lineId, planCode: 'PREPAID_PAYG', idempotencyKey: `e2e-change-${lineId}` } })).changePlan;
    expect(change.preview.timing).toBe('END_OF_CYCLE');
    const effectiveAt = new Date(change.preview.effectiveAt).toISOString();
    expect(effectiveAt).toBe(new Date(first[0]!.validTo).toISOString());
    await eventually(async () => ((await bucketsOf()).every((b) => new Date(b.validTo).toISOString() === effectiveAt) ? true : null), `the allowances to end at ${effectiveAt}`);

    const stopped = Date.now();
    ok(await system.graphql('mutation($i: LineChangeInput!) { terminateLine(input: $i) { order { status } } }', { i: { lineId } }));
    await eventually(async () => ((await bucketsOf()).every((b) => new Date(b.validTo).getTime() <= Date.now() && new Date(b.validTo).getTime() >= stopped - 1000) ? true : null), 'the allowances to end at the termination');
  });
});
