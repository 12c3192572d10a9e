import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type FileCatalog, type Harness } from './support';

/**
 * The plan-change preview lists the add-ons the new plan would hold (carried with their own dates),
 * so the customer sees them before accepting; an add-on that makes the change refused is named in the
 * refusal (PLAN_CHANGE_ADDON_INCOMPATIBLE). Line: Europe/Berlin, bill cycle day 1.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterAll(async () => {
  await h?.close();
});

const PREVIEW = `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { timing effectiveAt carriedAddOns { code startsAt endsAt } } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { preview { timing carriedAddOns { code } } } }`;

let n = 0;
async function newLine(planCode: string): Promise<string> {
  n += 1;
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: `Preview Carry ${n}`, kind: 'INDIVIDUAL', timezone: 'Europe/Berlin' } });
  const a = await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, {
    i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' },
  });
  const line = await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: a.openBillingAccount.billingAccount.id, msisdn: `+49151239903${String(n).padStart(2, '0')}`, planCode } });
  return line.addLine.line.id as string;
}
const buy = async (lineId: string, offerCode: string) =>
  expect((await h.ok(`mutation($i: AddAddOnInput!) { addAddOn(input: $i) { order { status } } }`, { i: { lineId, offerCode } })).addAddOn.order.status).toBe('COMPLETED');

describe('plan-change preview: the add-ons carried to the new plan', () => {
  it('an END_OF_CYCLE change lists the add-ons still valid when it starts, not those ending before; the order carries the same', async () => {
    const lineId = await newLine('FAMILY_SHARE_50GB');
    await buy(lineId, 'DATA_BOOST_5GB'); // 30 days: valid on 1 December
    await buy(lineId, 'ROAM_WORLD_PASS_7D'); // 7 days: ended on 23 November, not carried
    const p = (await h.ok(PREVIEW, { i: { lineId, planCode: 'POSTPAID_20GB' } })).previewPlanChange;
    expect(p).toEqual({
      timing: 'END_OF_CYCLE',
      effectiveAt: '2026-11-30T23:00:00.000Z',
      carriedAddOns: [{ code: 'DATA_BOOST_5GB', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-12-16T10:00:00.000Z' }],
    });
    expect((await h.ok(CHANGE, { i: { lineId, planCode: 'POSTPAID_20GB' } })).changePlan.preview).toEqual({ timing: 'END_OF_CYCLE', carriedAddOns: [{ code: 'DATA_BOOST_5GB' }] });
  });

  it('none held: an empty list; an add-on the new plan cannot hold: refused, naming it', async () => {
    const lineId = await newLine('FAMILY_SHARE_50GB');
    expect((await h.ok(PREVIEW, { i: { lineId, planCode: 'POSTPAID_20GB' } })).previewPlanChange.carriedAddOns).toEqual([]);
    await buy(lineId, 'DATA_BOOST_5GB');
    const restore = (h.catalogClient as FileCatalog).sellOnlyWith(['DATA_BOOST_5GB'], ['FAMILY_SHARE_50GB']);
    try {
      const r = await h.subscribers.request<any>(PREVIEW, { i: { lineId, planCode: 'POSTPAID_20GB' } });
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_CHANGE_ADDON_INCOMPATIBLE', offerCode: 'DATA_BOOST_5GB' });
    } finally {
      restore();
    }
  });
});
