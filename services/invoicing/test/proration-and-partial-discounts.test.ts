// Through the bill run against real PostgreSQL and NATS: (a) a plan change at noon local billed the
// change day on both plans (old plan 16/30 days + new plan 15/30: 31 days in a 30-day month);
// (b) a discount valid for part of the period gave its whole amount (a fixed amount) or applied to
// the whole period's charges (a percent). Now the change day goes to the new plan and a discount
// counts only the days it is valid in (see the day rule in src/domain/compose.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const ADD_DISCOUNT = 'mutation($i: AddDiscountInput!) { addDiscount(input: $i) { ok } }';
const lines = (inv: any) => inv.lines.map((l: any) => [l.kind, l.netAmount.amount, l.taxAmount.amount]);
const addsUp = (inv: any) => inv.lines.reduce((n: any, l: any) => n.plus(l.grossAmount.amount), dec('0')).eq(inv.total.amount);

beforeAll(async () => {
  // No NATS consumer: this file's data comes through GraphQL, and a consumer would take in other runs' accounts from
  // the shared stream, which its bill runs would bill too (one with a plan version unknown here stalls the run).
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false });
  // Accounts in Europe/Berlin billed on the 1st: September is 31 Aug 22:00Z – 30 Sep 22:00Z, 30 days.
  // (a) Postpaid 20 GB (29.99), changed to Postpaid 50 GB (45.00) on 16 Sep at 12:00 local.
  await account(h, 'acc_noon_change');
  await subscribe(h, 'acc_noon_change', 'sub_1', 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql('mutation($i: RecordSubscriptionInput!) { recordSubscription(input: $i) { ok } }', {
    i: { subscriptionId: 'sub_1', lineId: 'lin_sub_1', billingAccountId: 'acc_noon_change', planCode: 'POSTPAID_50GB', planVersionId: 'plv_postpaid50_v1', startsAt: '2026-09-16T10:00:00Z' },
  });
  // (b) 10.00 off the fee, valid 11–20 Sep local (10 of 30 days).
  await account(h, 'acc_partial_amount');
  await subscribe(h, 'acc_partial_amount', 'sub_2', 'postpaid20', '2026-08-01T00:00:00Z');
  await h.gql(ADD_DISCOUNT, { i: { billingAccountId: 'acc_partial_amount', code: 'AUTUMN10', description: '10.00 off, 11–20 Sep', amount: '10.00', validFrom: '2026-09-10T22:00:00Z', validTo: '2026-09-20T22:00:00Z' } });
  // (b) 20 % off usage from 21 Sep local on (10 of 30 days), usage 30.00 in the month.
  await account(h, 'acc_partial_percent');
  await subscribe(h, 'acc_partial_percent', 'sub_3', 'postpaid20', '2026-08-01T00:00:00Z');
  await charges(h, [
    { chargeId: 'chg_pp1', billingAccountId: 'acc_partial_percent', lineId: 'lin_sub_3', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '600', unit: 'MB', amount: '30.00', currency: 'EUR', occurredAt: '2026-09-12T12:00:00Z' },
  ]);
  await h.gql(ADD_DISCOUNT, { i: { billingAccountId: 'acc_partial_percent', code: 'ROAM20', description: '20% off usage from 21 Sep', percent: '20', target: 'USAGE', validFrom: '2026-09-20T22:00:00Z' } });
  const run = await runBillRun(h, '2026-10-01');
  expect(run).toMatchObject({ state: 'COMPLETED', invoicesCreated: 3 });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('bill run: proration and partial-period discounts', () => {
  it('a plan change at noon: the change day is billed once, on the new plan (15 + 15 days)', async () => {
    const [inv] = await invoicesOf(h, 'acc_noon_change');
    expect(lines(inv)).toEqual([
      ['RECURRING', '15', '2.85'], // 29.99 × 15/30 = 14.995 → 15.00 (half-even), not × 16/30 = 15.99
      ['RECURRING', '22.5', '4.28'], // 45 × 15/30; tax 4.275 → 4.28
    ]);
    expect(inv.lines.map((l: any) => l.quantity)).toEqual(['0.5', '0.5']);
    expect(inv.lines[0].description).toContain('15/30 days');
    expect(inv.lines[1].description).toContain('15/30 days');
    expect(inv).toMatchObject({ netTotal: { amount: '37.5' }, taxTotal: { amount: '7.13' }, total: { amount: '44.63' } });
    expect(addsUp(inv)).toBe(true);
  });

  it('a fixed discount valid 10 of 30 days takes 10/30 of its amount', async () => {
    const [inv] = await invoicesOf(h, 'acc_partial_amount');
    expect(lines(inv)).toEqual([
      ['RECURRING', '29.99', '5.7'],
      ['DISCOUNT', '-3.33', '-0.63'], // 10.00 × 10/30 = 3.333… → 3.33, not 10.00
    ]);
    expect(inv).toMatchObject({ netTotal: { amount: '26.66' }, taxTotal: { amount: '5.07' }, total: { amount: '31.73' } });
    expect(addsUp(inv)).toBe(true);
  });

  it('a percent discount valid 10 of 30 days takes that percent of the prorated usage', async () => {
    const [inv] = await invoicesOf(h, 'acc_partial_percent');
    expect(lines(inv)).toEqual([
      ['RECURRING', '29.99', '5.7'],
      ['USAGE', '30', '5.7'],
      ['DISCOUNT', '-2', '-0.38'], // 20 % × 30.00 × 10/30, not 20 % × 30.00 = 6.00
    ]);
    expect(inv).toMatchObject({ netTotal: { amount: '57.99' }, taxTotal: { amount: '11.02' }, total: { amount: '69.01' } });
    expect(addsUp(inv)).toBe(true);
  });
});
