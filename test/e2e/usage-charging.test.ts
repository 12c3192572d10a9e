import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, ok, publishCatalog, startTestSystem, type System, freshMsisdn } from './harness';
const msisdn0 = freshMsisdn();
const msisdn1 = freshMsisdn();
// Record ids derive from (source, eventId) and are the JetStream message ids: unique per run, since
// runs share NATS and its duplicate window.
const RUN = Math.random().toString(36).slice(2, 8);

/**
 * Usage through the whole chain: recordUsage (usage) → rated with the catalog's plan → a charge
 * request over JetStream → the wallets ledger → the charge result back to usage, all read
 * through the gateway.
 */
describe('usage is rated and charged end to end', () => {
  let system: System;

  beforeAll(async () => {
    system = await startTestSystem();
    await publishCatalog(system);
  });
  afterAll(() => system?.stop());

  async function lineOn(paymentMode: 'PREPAID' | 'POSTPAID', planCode: string, msisdn: string, extra: Record<string, unknown> = {}) {
    const { createCustomer } = ok(await system.graphql('mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }', { i: { name: `Owner of ${msisdn}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } }));
    const { openBillingAccount } = ok(
      await system.graphql('mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', { i: { customerId: createCustomer.customer.id, paymentMode, currency: 'EUR', ...extra } }),
    );
    const accountId = openBillingAccount.billingAccount.id as string;
    const { addLine } = ok(await system.graphql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: accountId, msisdn, planCode } }));
    // Wallets opens the wallet and grants the plan's allowances from subscribers' events.
    await eventually(async () => {
      const d = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { id } buckets { allowanceId } } }', { id: accountId }));
      return d.billingAccount.wallets.length && d.billingAccount.buckets.length ? true : null;
    }, 'wallet and buckets');
    return { accountId, lineId: addLine.line.id as string };
  }

  const RECORD = 'mutation($i: RecordUsageInput!) { recordUsage(input: $i) { results { status duplicate rejectionCode } } }';
  const recordsOf = async (lineId: string) =>
    ok(
      await system.graphql('query($f: UsageRecordFilter) { usageRecords(filter: $f, first: 20) { edges { node { eventId status rejectionCode decision chargeStatus amountCharged { amount } unitsFromAllowances } } } }', {
        f: { lineId },
      }),
    ).usageRecords.edges.map((e: { node: Record<string, any> }) => e.node);

  it('a prepaid line past its data bundle has its wallet debited, once even when the events are sent twice', async () => {
    const { accountId, lineId } = await lineOn('PREPAID', 'PREPAID_BUNDLE_30D', msisdn0);
    ok(
      await system.graphql('mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }', {
        i: { billingAccountId: accountId, amount: { amount: '10.00', currency: 'EUR' }, idempotencyKey: 'e2e-topup-1', reference: 'e2e' },
      }),
    );
    const now = Date.now();
    const records = [
      { eventId: `e2e-data-1-${RUN}`, msisdn: msisdn0, usageType: 'DATA', quantity: '10000', occurredAt: new Date(now - 200).toISOString() },
      { eventId: `e2e-data-2-${RUN}`, msisdn: msisdn0, usageType: 'DATA', quantity: '500', occurredAt: new Date(now - 100).toISOString() },
    ];
    for (let i = 0; i < 2; i++) ok(await system.graphql(RECORD, { i: { source: 'e2e', records } }));

    const second = await eventually(async () => {
      const node = (await recordsOf(lineId)).find((r: { eventId: string }) => r.eventId === `e2e-data-2-${RUN}`);
      return node && !['PENDING', 'NONE'].includes(node.chargeStatus) ? node : null;
    }, 'the ledger to apply the charge', 30_000);
    expect(second).toMatchObject({ status: 'RATED', decision: 'RATED' });
    const first = (await recordsOf(lineId)).find((r: { eventId: string }) => r.eventId === `e2e-data-1-${RUN}`);
    expect(first).toMatchObject({ status: 'RATED', chargeStatus: 'APPLIED' });
    expect(Number(first.unitsFromAllowances)).toBe(10000);
    const buckets = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { buckets { allowanceId unit initialQuantity remaining } } }', { id: accountId })).billingAccount.buckets;
    const data = buckets.filter((b: { allowanceId: string }) => b.allowanceId === 'data');
    expect(data.map((b: { initialQuantity: string; remaining: string }) => [Number(b.initialQuantity), Number(b.remaining)])).toEqual([[10240, 0]]);
    expect(Number(second.unitsFromAllowances)).toBe(240); // what was left of the 10,240 MB bundle
    expect(Number(second.amountCharged.amount)).toBeGreaterThan(0);

    const wallet = ok(await system.graphql('query($id: ID!) { billingAccount(id: $id) { wallets { balance { amount } } } }', { id: accountId })).billingAccount.wallets[0];
    expect(Number(wallet.balance.amount)).toBeCloseTo(10 - Number(second.amountCharged.amount), 6);
    expect((await recordsOf(lineId)).map((r: { eventId: string }) => r.eventId).sort()).toEqual([`e2e-data-1-${RUN}`, `e2e-data-2-${RUN}`].sort());

    // Which plan would have been cheaper for this account's month? The catalog prices its real usage.
    const cmp = ok(
      await system.graphql('query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode total } }', {
        i: { planCodes: ['PREPAID_BUNDLE_30D', 'PREPAID_PAYG'], billingAccountId: accountId },
      }),
    ).comparePlans;
    expect(cmp.map((c: { planCode: string }) => c.planCode).sort()).toEqual(['PREPAID_BUNDLE_30D', 'PREPAID_PAYG']);
    expect(Number(cmp[0].total)).toBeLessThanOrEqual(Number(cmp[1].total));
    expect(Number(cmp.find((c: { planCode: string }) => c.planCode === 'PREPAID_PAYG').total)).toBeGreaterThan(0); // 10.5 GB pay-as-you-go is not free
  });

  it('a suspended line is denied', async () => {
    const { lineId } = await lineOn('PREPAID', 'PREPAID_BUNDLE_30D', msisdn1);
    ok(await system.graphql('mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } } }', { i: { lineId } }));
    await new Promise((r) => setTimeout(r, 1500)); // the line state event reaches usage
    const r = ok(await system.graphql(RECORD, { i: { source: 'e2e', records: [{ eventId: `e2e-susp-1-${RUN}`, msisdn: msisdn1, usageType: 'VOICE', quantity: '60', occurredAt: new Date().toISOString(), calledNumber: '+4930123456' }] } }));
    const result = r.recordUsage.results[0];
    const node = (await recordsOf(lineId)).find((r: { eventId: string }) => r.eventId === `e2e-susp-1-${RUN}`);
    // Denied either at validation (REJECTED LINE_SUSPENDED) or by rating (decision DENIED); never charged.
    expect(result.status === 'REJECTED' ? result.rejectionCode : node?.decision).toMatch(/LINE_SUSPENDED|DENIED/);
    expect(node?.amountCharged ?? null).toBeNull();
  });
});
