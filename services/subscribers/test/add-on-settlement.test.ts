import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';
import type { BucketGrant, PurchaseCharge, WalletsPort } from '../src/ports/wallets-client';

/**
 * An add-on order settles in wallets before it completes: a prepaid account pays from its
 * balance (a refusal fails the order and grants nothing), and the add-on's allowances become
 * buckets of the line. The wallets service is a recording stand-in here; the end-to-end test runs
 * the real one.
 */
class RecordingWallets implements WalletsPort {
  balance = 0;
  charges: PurchaseCharge[] = [];
  grants: BucketGrant[] = [];
  async chargePurchase(c: PurchaseCharge) {
    this.charges.push(c);
    if (Number(c.amount) > this.balance) return { outcome: 'DENIED' as const, reason: 'WALLET_INSUFFICIENT_BALANCE' };
    this.balance -= Number(c.amount);
    return { outcome: 'APPLIED' as const, reason: null };
  }
  async grantBucket(g: BucketGrant) {
    this.grants.push(g);
  }
  async closeCharge() {
    return { taken: false, outcome: null };
  }
  async revokeGrant() {}
  async allowancePeriod() {
    return null;
  }

}

let h: Harness;
const wallets = new RecordingWallets();

const ok = (query: string, variables: Record<string, unknown>) => h.ok(query, variables);
async function lineOn(paymentMode: 'PREPAID' | 'POSTPAID', planCode: string, msisdn: string) {
  const c = await ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Owner ${msisdn}`, kind: 'INDIVIDUAL' } });
  const a = await ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: c.createCustomer.customer.id, paymentMode, currency: 'EUR', ...(paymentMode === 'POSTPAID' ? { creditLimit: '100.00' } : {}) } });
  const l = await ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn, planCode } });
  return { accountId: a.openBillingAccount.billingAccount.id as string, lineId: l.addLine.line.id as string };
}
const BUY = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { order { id status failureCode failureMessage } line { subscription { addOns { code } } } } }`;

beforeAll(async () => {
  h = await startHarness({ now: '2026-11-20T09:00:00Z', wallets });
});
afterAll(() => h?.close());

describe('add-on settlement in wallets', () => {
  it('a prepaid add-on the balance does not cover fails the order and grants nothing', async () => {
    const { lineId } = await lineOn('PREPAID', 'PREPAID_PAYG', '+491701110001');
    const r = (await ok(BUY, { i: { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'buy-1' } })).addAddOn;
    expect(r.order).toMatchObject({ status: 'FAILED', failureCode: 'ADDON_PAYMENT_DENIED' });
    expect(r.order.failureMessage).toContain('WALLET_INSUFFICIENT_BALANCE');
    expect(r.line.subscription.addOns).toEqual([]);
    expect(wallets.grants).toEqual([]);
    expect((await h.rows(`select count(*)::int n from one_off_charge where order_id = $1`, [r.order.id]))[0]).toEqual({ n: 0 });
  });

  it('a covered prepaid add-on is paid once, then its allowance is granted to the line for its validity', async () => {
    wallets.balance = 12;
    wallets.charges = [];
    const { accountId, lineId } = await lineOn('PREPAID', 'PREPAID_PAYG', '+491701110002');
    const r = (await ok(BUY, { i: { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'buy-2' } })).addAddOn;
    expect(r.order.status).toBe('COMPLETED');
    expect(r.line.subscription.addOns).toEqual([{ code: 'DATA_BOOST_5GB' }]);
    expect(wallets.charges).toEqual([{ chargeId: expect.stringMatching(/^chg_/), billingAccountId: accountId, lineId, amount: expect.stringMatching(/^5(\.0+)?$/), currency: 'EUR', occurredAt: new Date('2026-11-20T09:00:00Z') }]);
    expect(wallets.balance).toBe(7);
    expect(wallets.grants).toEqual([
      { billingAccountId: accountId, lineId, allowanceId: 'boost-data', name: '5 GB boost', unit: 'MB', quantity: '5120', validFrom: new Date('2026-11-20T09:00:00Z'), validTo: new Date('2026-12-20T09:00:00Z'), grantKey: `addon:${r.order.id}:boost-data` },
    ]);
    // The replayed request (same idempotency key) settles nothing again.
    await ok(BUY, { i: { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'buy-2' } });
    expect(wallets.charges).toHaveLength(1);
    expect(wallets.grants).toHaveLength(1);
  });

  it('a postpaid add-on is not paid from a wallet (invoicing bills it) but is granted', async () => {
    wallets.charges = [];
    wallets.grants = [];
    const { lineId } = await lineOn('POSTPAID', 'POSTPAID_20GB', '+491701110003');
    const r = (await ok(BUY, { i: { lineId, offerCode: 'ROAM_WORLD_PASS_7D', idempotencyKey: 'buy-3' } })).addAddOn;
    expect(r.order.status).toBe('COMPLETED');
    expect(wallets.charges).toEqual([]);
    expect(wallets.grants.map((g) => [g.allowanceId, g.quantity, (g.validTo.getTime() - g.validFrom.getTime()) / 86_400_000])).toEqual([
      ['roam-pass-data', '1024', 7],
      ['roam-pass-voice', '3600', 7],
    ]);
  });
});
