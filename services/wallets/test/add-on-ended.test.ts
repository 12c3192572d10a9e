// An add-on ended before it lapsed (subscribers' endAddOn): `addon.ended` names the grant keys of its
// buckets, which are revoked (what is left goes back to ALLOWANCE_GRANTED, ledger balanced), and the
// refund of its unused part comes as a CREDIT one-off, credited to a prepaid balance. Both through
// NATS as subscribers publishes them; a redelivered event changes nothing more. Before, wallets
// ignored addon.ended: the bucket stayed ACTIVE and usable after the add-on was refunded.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCloudEvent, EVENTS, type AddOnEndedData, type OneOffChargeData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, eventually, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const GRANT = `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id status remaining } } }`;
const BUCKETS = `query($a: ID!) { buckets(billingAccountId: $a, includeExpired: true) { id status remaining allowanceId } }`;
const SOURCE = 'ledgerline/subscribers';

/** Publishes a subscribers event as its outbox relay does; each call is a new message (a redelivery is one too). */
async function publish(name: 'addOnEnded' | 'oneOffChargeCreated', subject: string, key: string[], data: AddOnEndedData | OneOffChargeData): Promise<void> {
  const event = createCloudEvent({ source: SOURCE, type: EVENTS[name].type, subject, time: T0, key, data });
  await svc.runtime.messaging.js.publish(EVENTS[name].subject, JSON.stringify(event), { msgID: uniq('msg') });
}
const credit = (billingAccountId: string, amount: string): OneOffChargeData => ({
  chargeId: uniq('chg'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_end', kind: 'CREDIT', reason: 'ADD_ON_PURCHASE',
  amount, currency: 'EUR', description: 'Refund: DATA_BOOST_5GB ended, 25 of 30 days unused', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
});
const txKinds = async (billingAccountId: string) =>
  (await dbOf(svc).query<{ kind: string }>(`select kind from ledger_transaction where billing_account_id = $1 and kind in ('BUCKET_REVOKE', 'ONE_OFF_CREDIT') order by kind`, [billingAccountId])).map((r) => r.kind);

describe('addon.ended', () => {
  it("revokes the ended add-on's bucket and its CREDIT one-off credits the prepaid balance, once however often both come", async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const purchase = uniq('ord');
    const grantKey = `addon:${purchase}:boost-data`;
    const granted = (await gql(svc, GRANT, {
      i: { billingAccountId, lineId: 'lin_1', allowanceId: 'boost-data', unit: 'MB', quantity: '5120', validFrom: T0.toISOString(), validTo: new Date(T0.getTime() + 30 * 86_400_000).toISOString(), grantKey },
    })).grantBucket.bucket;
    expect(granted.status).toBe('ACTIVE');
    // Another bucket of the account (the plan's) is left as it is.
    const other = (await gql(svc, GRANT, {
      i: { billingAccountId, lineId: 'lin_1', allowanceId: 'plan-data', unit: 'MB', quantity: '1000', validFrom: T0.toISOString(), validTo: new Date(T0.getTime() + 30 * 86_400_000).toISOString(), grantKey: uniq('plan') },
    })).grantBucket.bucket;

    const refund = credit(billingAccountId, '-4.17');
    const ended: AddOnEndedData = {
      orderId: 'ord_end', purchaseOrderId: purchase, lineId: 'lin_1', billingAccountId, subscriptionId: 'sub_1', offerCode: 'DATA_BOOST_5GB',
      startsAt: T0.toISOString(), endsAt: new Date(T0.getTime() + 30 * 86_400_000).toISOString(), endedAt: new Date(T0.getTime() + 4 * 86_400_000).toISOString(), reason: null,
      grantKeys: [grantKey], refund: { amount: '4.17', currency: 'EUR' }, creditChargeId: refund.chargeId,
    };
    for (let i = 0; i < 2; i++) {
      await publish('addOnEnded', 'lin_1', ['lin_1', 'DATA_BOOST_5GB', ended.startsAt, 'ended'], ended);
      await publish('oneOffChargeCreated', refund.chargeId, [refund.chargeId], refund);
    }
    // A later event of another account: once it is applied, everything before it was too (one consumer, in order).
    const marker = await openPrepaid(svc);
    await publish('oneOffChargeCreated', 'marker', [uniq('marker')], credit(marker.billingAccountId, '-1.00'));
    expect(await eventually(async () => (await balanceOf(svc, marker.walletId)) === '1')).toBe(true);

    const buckets = (await gql(svc, BUCKETS, { a: billingAccountId })).buckets as { id: string; status: string; remaining: string }[];
    expect(buckets.find((b) => b.id === granted.id)).toMatchObject({ status: 'REVOKED', remaining: '0' });
    expect(buckets.find((b) => b.id === other.id)).toMatchObject({ status: 'ACTIVE', remaining: '1000' });
    expect(await balanceOf(svc, walletId)).toBe('14.17');
    expect(await txKinds(billingAccountId)).toEqual(['BUCKET_REVOKE', 'ONE_OFF_CREDIT']);
  });
});
