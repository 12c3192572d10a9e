// addDiscount's bad input: each refused with a code naming the field, and no discount stored.
// (Eleventh session: an amount finer than the currency's minor unit, or a discount ending before
// it starts, was stored.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { account, startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T08:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_discount_input');
});
afterAll(async () => h?.svc.close());

const ADD = 'mutation($i: AddDiscountInput!) { addDiscount(input: $i) { ok } }';
const base = { billingAccountId: 'acc_discount_input', code: 'X', description: 'x', validFrom: '2026-10-01T00:00:00Z' };

describe('addDiscount bad input', () => {
  it.each([
    ['an amount finer than the cent', { amount: '5.005' }, 'input.amount', 'DISCOUNT_AMOUNT_PRECISION'],
    ['a zero amount', { amount: '0' }, 'input.amount', 'DISCOUNT_AMOUNT_INVALID'],
    ['a percent above 100', { percent: '101' }, 'input.percent', 'DISCOUNT_PERCENT_INVALID'],
    ['both a percent and an amount', { percent: '10', amount: '1' }, 'input.percent', 'DISCOUNT_SHAPE_INVALID'],
    ['an end before the start', { amount: '5', validTo: '2026-09-01T00:00:00Z' }, 'input.validTo', 'DISCOUNT_PERIOD_INVALID'],
  ])('%s', async (_name, extra, field, reason) => {
    const r = await h.svc.request<any>(ADD, { i: { ...base, code: `X_${reason}`, ...extra } });
    expect(r.errors?.[0]?.extensions, JSON.stringify(r)).toMatchObject({ code: 'BAD_USER_INPUT', field, reason });
    const stored = await h.svc.runtime.orm.em.fork().getConnection().execute(`select count(*)::int as n from discount where billing_account_id = 'acc_discount_input'`);
    expect(stored).toEqual([{ n: 0 }]);
  });
});
