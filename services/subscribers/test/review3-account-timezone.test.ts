import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './support';

/**
 * Review: bad input gets BAD_USER_INPUT naming the field (CONVENTIONS rule 4). openBillingAccount
 * validates `timezone` only when it is truthy (`if (c.timezone) assertTimezone(...)`) and then
 * stores `c.timezone ?? customer.timezone`, so an empty string is stored as the account's time
 * zone. Every later date computation in that zone throws a RangeError: a plan change on the line
 * answers INTERNAL_SERVER_ERROR instead of working (or the account being refused up front).
 */
let h: Harness;
const ok = (query: string, variables: Record<string, unknown>) => h.ok(query, variables);
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterAll(() => h?.close());

describe('review3: an empty time zone on a billing account', () => {
  it('is refused naming input.timezone, or replaced by the customer’s zone; never stored as ""', async () => {
    const c = await ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Tim Zone', kind: 'INDIVIDUAL', timezone: 'Europe/Berlin', creditClass: 'B' } });
    const r = await h.subscribers.request<any>(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id timezone } } }`, {
      i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', timezone: '' },
    });
    if (r.errors) {
      expect(r.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.timezone' });
      return;
    }
    const account = r.data.openBillingAccount.billingAccount;
    // What the stored zone does to the account's lines: a plan change preview works in its zone.
    const line = (await ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: account.id, msisdn: '+4915123444001', planCode: 'FAMILY_SHARE_50GB' } })).addLine.line;
    const preview = await h.subscribers.request<any>(`mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { timing } }`, { i: { lineId: line.id, planCode: 'POSTPAID_20GB' } });
    expect(
      { timezone: account.timezone, previewError: preview.errors?.[0]?.extensions?.code ?? null },
      'an account opened with timezone "" must get a real zone (the customer’s, Europe/Berlin) or be refused with BAD_USER_INPUT on input.timezone',
    ).toEqual({ timezone: 'Europe/Berlin', previewError: null });
  });
});
