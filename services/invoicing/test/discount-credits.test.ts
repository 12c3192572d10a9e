// Through the bill run against real PostgreSQL: a percent discount takes off the charges it targets,
// never a credit on the same invoice (a goodwill credit, a one-off with a negative amount, is given in
// full). The rule and its unit tests: src/domain/discount-credits.test.ts; this pins that the coupons
// (`addDiscount`) and credits (`addOneOffCharge`) reach composition that way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, type Harness } from './support';

let h: Harness;
const ADD_DISCOUNT = 'mutation($i: AddDiscountInput!) { addDiscount(input: $i) { ok } }';
const ADD_ONE_OFF = 'mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }';
const lines = (inv: any) => inv.lines.map((l: any) => [l.kind, l.netAmount.amount, l.taxAmount.amount]);
const addsUp = (inv: any) => inv.lines.reduce((n: any, l: any) => n.plus(l.grossAmount.amount), dec('0')).eq(inv.total.amount);
const goodwill = (id: string, accountId: string) =>
  h.gql(ADD_ONE_OFF, { i: { id, billingAccountId: accountId, code: 'GOODWILL', description: 'Goodwill credit', amount: { amount: '-5.00', currency: 'EUR' }, occurredAt: '2026-09-20T10:00:00Z' } });

beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z', { consume: false }); // mutations only: no other test's events
  // Europe/Berlin accounts billed on the 1st, Postpaid 20 GB (29.99) all September.
  // (a) 10 % off the whole invoice and a -5.00 goodwill credit.
  await account(h, 'acc_dcr_invoice');
  await subscribe(h, 'acc_dcr_invoice', 'sub_dcr1', 'postpaid20', '2026-08-01T00:00:00Z');
  await goodwill('oo_dcr_gw1', 'acc_dcr_invoice');
  await h.gql(ADD_DISCOUNT, { i: { billingAccountId: 'acc_dcr_invoice', code: 'ALL10', description: '10% off the invoice', percent: '10', target: 'INVOICE', validFrom: '2026-08-01T00:00:00Z' } });
  // (b) 10 % off the fee and 10 % off usage (10.00), and a -5.00 goodwill credit.
  await account(h, 'acc_dcr_targets');
  await subscribe(h, 'acc_dcr_targets', 'sub_dcr2', 'postpaid20', '2026-08-01T00:00:00Z');
  await goodwill('oo_dcr_gw2', 'acc_dcr_targets');
  await charges(h, [
    { chargeId: 'chg_dcr1', billingAccountId: 'acc_dcr_targets', lineId: 'lin_sub_dcr2', usageType: 'DATA', zone: 'ROAMING_WORLD', units: '200', unit: 'MB', amount: '10.00', currency: 'EUR', occurredAt: '2026-09-12T12:00:00Z' },
  ]);
  await h.gql(ADD_DISCOUNT, { i: { billingAccountId: 'acc_dcr_targets', code: 'FEE10', description: '10% off the fee', percent: '10', target: 'RECURRING', validFrom: '2026-08-01T00:00:00Z' } });
  await h.gql(ADD_DISCOUNT, { i: { billingAccountId: 'acc_dcr_targets', code: 'USE10', description: '10% off usage', percent: '10', target: 'USAGE', validFrom: '2026-08-01T00:00:00Z' } });
  const run = await runBillRun(h, '2026-10-01');
  expect(run).toMatchObject({ state: 'COMPLETED', invoicesCreated: 2 });
});

afterAll(async () => {
  await h?.svc.close();
});

describe('bill run: percent discounts and credits on one invoice', () => {
  it('10 % off the invoice takes 10 % of the 29.99 charged (3.00), the -5.00 credit is given in full: 21.99 net', async () => {
    const [inv] = await invoicesOf(h, 'acc_dcr_invoice');
    expect(lines(inv)).toEqual([
      ['RECURRING', '29.99', '5.7'],
      ['ONE_OFF', '-5', '-0.95'],
      ['DISCOUNT', '-3', '-0.57'], // 10 % × 29.99 = 2.999 → 3.00; not 10 % × (29.99 − 5.00) = 2.50 (22.49 net)
    ]);
    expect(inv).toMatchObject({ netTotal: { amount: '21.99' }, taxTotal: { amount: '4.18' }, total: { amount: '26.17' } });
    expect(addsUp(inv)).toBe(true);
  });

  it('10 % off the fee and 10 % off usage take 3.00 and 1.00, the credit stays -5.00: 30.99 net', async () => {
    const [inv] = await invoicesOf(h, 'acc_dcr_targets');
    expect(lines(inv)).toEqual([
      ['RECURRING', '29.99', '5.7'],
      ['USAGE', '10', '1.9'],
      ['ONE_OFF', '-5', '-0.95'],
      ['DISCOUNT', '-3', '-0.57'],
      ['DISCOUNT', '-1', '-0.19'],
    ]);
    expect(inv).toMatchObject({ netTotal: { amount: '30.99' }, taxTotal: { amount: '5.89' }, total: { amount: '36.88' } });
    expect(addsUp(inv)).toBe(true);
  });
});
