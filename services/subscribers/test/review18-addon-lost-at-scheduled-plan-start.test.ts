import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateDueSubscriptions } from '../src/application/activate-due-subscriptions';
import { ORDER_FIELDS, startHarness, type Harness } from './support';

/**
 * Review 18: an add-on bought while an END_OF_CYCLE plan change is scheduled is put on the ACTIVE
 * (ending) subscription only; the SCHEDULED one copied the add-ons when the change completed
 * (`applyPlanChange`: `addOns: current.addOns`). When the new plan starts, the paid add-on (valid
 * 30 days) is gone from the line's subscription (and from the events usage rates by), and the
 * customer can buy it (and is charged) a second time. Fixed 2026-11-28 (see STATUS.md); the cases
 * around it in `addon-carried-at-plan-change.test.ts`.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterAll(async () => {
  await h?.close();
});

const gql = (q: string, v: Record<string, unknown>) => h.ok(q, v);
const ADD = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { line { subscription { id addOns { code startsAt endsAt } } } order { ${ORDER_FIELDS} } } }`;
const sweep = (at: string) => h.subscribers.runtime.orm.em.fork().transactional((em) => activateDueSubscriptions(em as never, new Date(at)));

describe('review18: add-on bought while a downgrade is scheduled', () => {
  it('stays on the line when the scheduled plan starts, and is not sold twice', async () => {
    const c = await gql(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Ada Addon', kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } });
    const a = await gql(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, {
      i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' },
    });
    const line = (await gql(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: '+4915123990001', planCode: 'FAMILY_SHARE_50GB' } })).addLine.line;

    // Downgrade: END_OF_CYCLE, new plan from 1 December (Berlin) = 2026-11-30T23:00Z.
    const changed = (await gql(`mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { ${ORDER_FIELDS} } preview { timing } } }`, { i: { lineId: line.id, planCode: 'POSTPAID_20GB' } })).changePlan;
    expect(changed.preview.timing).toBe('END_OF_CYCLE');
    expect(changed.order.status).toBe('COMPLETED');

    // 20 November: the customer buys a 30-day data boost (valid until 20 December), paid 5.00.
    h.clock.set('2026-11-20T10:00:00Z');
    const bought = (await gql(ADD, { i: { lineId: line.id, offerCode: 'DATA_BOOST_5GB' } })).addAddOn;
    expect(bought.order.status).toBe('COMPLETED');

    // The new plan starts.
    h.clock.set('2026-12-02T10:00:00Z');
    await sweep('2026-12-02T10:00:00Z');
    const after = await gql(`query($id: ID!) { line(id: $id) { planCode subscription { planCode status addOns { code startsAt endsAt } } } }`, { id: line.id });
    expect(after.line.planCode).toBe('POSTPAID_20GB');
    // The boost paid for on 20 November is still valid on 2 December.
    expect.soft(after.line.subscription.addOns).toEqual([{ code: 'DATA_BOOST_5GB', startsAt: '2026-11-20T10:00:00.000Z', endsAt: '2026-12-20T10:00:00.000Z' }]);

    // ...so buying it again is refused, not charged a second time.
    const again = await h.subscribers.request<any>(ADD, { i: { lineId: line.id, offerCode: 'DATA_BOOST_5GB' } });
    expect.soft(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'ADDON_ALREADY_ACTIVE' });
    const charges = await h.rows(`select amount::text from one_off_charge where line_id = $1 and reason = 'ADD_ON_PURCHASE'`, [line.id]);
    expect(charges).toHaveLength(1);
  });
});
