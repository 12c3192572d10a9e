// Late usage of a period whose allowance rolled over (found in review, tenth session): a CDR of
// the ending period that arrives after the renewal (roaming files come hours or days later) found
// the ending bucket emptied into the rollover bucket, which is valid only from the renewal, and was
// charged as money although the customer had the allowance at the event's time.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SubscriptionData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { renewSubscription } from '../src/application/renew-allowances';
import { LATE_USAGE_GRACE_MS, expireBuckets } from '../src/application/buckets';
import type { PlanTerms } from '../src/adapters/catalog-client';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);

/** A postpaid plan (no fee taken by wallets): 1000 MB a period, `percent` of what is unused rolls over. */
const terms = (percent: string): PlanTerms => ({
  recurringFee: { amount: '15.00', period: 'DAYS30' },
  allowances: [{ id: 'data', name: '1 GB', unit: 'MB', quantity: '1000', validity: 'PERIOD', rollover: { percent } }],
});

/** A postpaid line on the plan, renewed at the end of its first period; its buckets by grant key. */
async function renewedLine(plan: PlanTerms) {
  const { billingAccountId } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
  const sub: SubscriptionData = {
    subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'P', planVersionId: 'pv_late',
    status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
  };
  const db = dbOf(svc);
  await db.tx((sql) => grantFromSubscription(sql, sub, plan, T0));
  expect(await db.tx((sql) => renewSubscription(sql, sub.subscriptionId, plan, at(30, 1)))).toBe('RENEWED');
  const bucketOf = async (grantKey: string) => (await db.query<{ id: string }>(`select id from bucket where grant_key = $1`, [grantKey]))[0]!.id;
  const buckets = {
    ending: await bucketOf(`${sub.subscriptionId}:data:${T0.toISOString()}`),
    rollover: await bucketOf(`${sub.subscriptionId}:data:rollover:${at(30).toISOString()}`),
    next: await bucketOf(`${sub.subscriptionId}:data:${at(30).toISOString()}`),
  };
  return { billingAccountId, sub, buckets };
}

const units = async (id: string) => (await dbOf(svc).query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [id]))[0]!.balance;
const lateCdr = (billingAccountId: string, lineId: string, mb: string) =>
  charge(billingAccountId, { paymentMode: 'POSTPAID', lineId, units: mb, pricePerUnit: '0.01', allowanceIds: ['data'], occurredAt: at(29, 1439).toISOString() });

describe('late usage of a period whose allowance rolled over at the renewal', () => {
  it('all of it rolled over: a CDR of the ending period that comes after the renewal draws on the units carried over, not on money', async () => {
    const { billingAccountId, sub, buckets } = await renewedLine(terms('100'));
    const late = (await gql(svc, APPLY, { i: lateCdr(billingAccountId, sub.lineId, '300') })).applyCharge.result;
    // Before: unitsFromAllowances 0 and 3.00 EUR charged, the 1000 MB untouched in the rollover bucket.
    expect({ fromAllowances: late.unitsFromAllowances, charged: late.amountCharged.amount }).toEqual({ fromAllowances: '300', charged: '0' });
    expect({ ending: await units(buckets.ending), rollover: await units(buckets.rollover), next: await units(buckets.next) })
      .toEqual({ ending: '0.000000', rollover: '700.000000', next: '1000.000000' });
    // The late-usage grace over, the ending bucket expires: a CDR of its period later still is money, as without a rollover.
    await dbOf(svc).tx((sql) => expireBuckets(sql, new Date(at(30).getTime() + LATE_USAGE_GRACE_MS + 60_000)));
    const tooLate = (await gql(svc, APPLY, { i: lateCdr(billingAccountId, sub.lineId, '100') })).applyCharge.result;
    expect({ fromAllowances: tooLate.unitsFromAllowances, charged: tooLate.amountCharged.amount, rollover: await units(buckets.rollover) }).toEqual({ fromAllowances: '0', charged: '1', rollover: '700.000000' });
  });

  it('part of it rolled over: the late CDR takes what the ending bucket kept first (forfeited otherwise), then the units carried over; never the next period\'s own allowance', async () => {
    const { billingAccountId, sub, buckets } = await renewedLine(terms('50')); // 1000 unused: 500 carried, 500 kept until the grace ends
    const late = (await gql(svc, APPLY, { i: lateCdr(billingAccountId, sub.lineId, '800') })).applyCharge.result;
    expect({ fromAllowances: late.unitsFromAllowances, charged: late.amountCharged.amount }).toEqual({ fromAllowances: '800', charged: '0' });
    expect({ ending: await units(buckets.ending), rollover: await units(buckets.rollover), next: await units(buckets.next) })
      .toEqual({ ending: '0.000000', rollover: '200.000000', next: '1000.000000' });
    // Usage of the new period still draws on the carried units first (drawn before the period's own).
    const now = (await gql(svc, APPLY, { i: charge(billingAccountId, { paymentMode: 'POSTPAID', lineId: sub.lineId, units: '250', pricePerUnit: '0.01', allowanceIds: ['data'], occurredAt: at(31).toISOString() }) })).applyCharge.result;
    expect(now.unitsFromAllowances).toBe('250');
    expect({ rollover: await units(buckets.rollover), next: await units(buckets.next) }).toEqual({ rollover: '0.000000', next: '950.000000' });
  });
});
