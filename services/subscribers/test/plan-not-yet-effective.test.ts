import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { LINE_FIELDS, ORDER_FIELDS, planDocument, startHarness, type Harness } from './support';

/**
 * A plan the catalog has published for a later date (its only published version's effectiveFrom
 * has not come: catalog's plan status SCHEDULED, no current version) was answered NOT_FOUND by
 * `addLine`, `subscribe`, `changePlan` and `previewPlanChange`, as if it did not exist. Now each
 * answers CONFLICT `PLAN_NOT_YET_EFFECTIVE` on `input.planCode` with the date it takes effect
 * (`extensions.effectiveFrom`), writes nothing, and sells it from that date. Unknown codes stay
 * NOT_FOUND.
 *
 * That answer is for staff (agents, admins, the system): the catalog shows scheduled plans to staff
 * only, so a CUSTOMER changing their own line's plan (`changePlan`, `previewPlanChange`) onto it is
 * answered exactly as for an unknown code (NOT_FOUND), learning neither the plan nor its launch date.
 */
let h: Harness;

const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } } }`;
const SUBSCRIBE = `mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { id planCode status } } }`;
const PREVIEW = `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { timing toPlanCode effectiveAt } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { ${ORDER_FIELDS} } } }`;
const IMPORT = `mutation($i: ImportPlanInput!) { importPlan(input: $i) { plan { status } version { id effectiveFrom } } }`;
const AGENT: Caller = { role: 'AGENT', subject: 'agent-7', scopes: [] };

const LAUNCH = '2026-12-01T00:00:00.000Z';
const CODE = 'FAMILY_SHARE_100GB';

let n = 0;
const msisdn = () => `+4915125${String(100000 + n++).padStart(6, '0')}`;

beforeAll(async () => {
  h = await startHarness({ realCatalog: true, now: '2026-11-16T10:00:00Z' });
  // A new plan announced for 1 December: its only version is published with a later effectiveFrom.
  const document = { ...(planDocument('family-share-50gb') as object), code: CODE, name: 'Family Share 100 GB' };
  const r = await h.catalog!.request(IMPORT, { i: { document, effectiveFrom: LAUNCH } });
  expect(r.errors).toBeUndefined();
  expect(r.data.importPlan).toMatchObject({ plan: { status: 'SCHEDULED' }, version: { effectiveFrom: LAUNCH } });
});
afterAll(async () => {
  await h?.close();
});

async function account() {
  const customerId = (await h.ok(CREATE_CUSTOMER, { i: { name: 'Launch Tester', kind: 'INDIVIDUAL', email: 'launch@example.org', timezone: 'Europe/Berlin', creditClass: 'B' } })).createCustomer.customer.id as string;
  const accountId = (await h.ok(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' } })).openBillingAccount.billingAccount.id as string;
  return { customerId, accountId };
}

/** Refused with PLAN_NOT_YET_EFFECTIVE on input.planCode, with the date, and not a row changed (outbox included). */
async function expectNotYetEffective(query: string, variables: Record<string, unknown>, caller?: Caller) {
  const before = await h.counts();
  const r = await h.subscribers.request(query, variables, caller);
  expect(r.errors?.[0]?.extensions, JSON.stringify(r.data)).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_NOT_YET_EFFECTIVE', field: 'input.planCode', planCode: CODE, effectiveFrom: LAUNCH });
  expect(r.errors![0]!.message).toContain(CODE);
  expect(r.errors![0]!.message).toContain(LAUNCH);
  expect(await h.counts()).toEqual(before);
}

describe('a plan published for a later date', () => {
  it('is refused as not yet effective (with its date) by addLine, subscribe, changePlan and previewPlanChange; unknown codes stay NOT_FOUND', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await account();
    const bare = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn() } })).addLine.line;
    const onPlan = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'FAMILY_SHARE_50GB' } })).addLine.line;

    for (const caller of [AGENT, undefined /* SYSTEM */]) {
      const tag = caller?.role ?? 'SYSTEM';
      await expectNotYetEffective(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: CODE, idempotencyKey: `add-${tag}` } }, caller);
      await expectNotYetEffective(SUBSCRIBE, { i: { lineId: bare.id, planCode: CODE } }, caller);
      await expectNotYetEffective(PREVIEW, { i: { lineId: onPlan.id, planCode: CODE } }, caller);
      await expectNotYetEffective(CHANGE, { i: { lineId: onPlan.id, planCode: CODE, idempotencyKey: `change-${tag}` } }, caller);
    }

    // A code the catalog does not know is still NOT_FOUND.
    for (const [query, variables] of [
      [ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'NO_SUCH_PLAN' } }],
      [SUBSCRIBE, { i: { lineId: bare.id, planCode: 'NO_SUCH_PLAN' } }],
      [PREVIEW, { i: { lineId: onPlan.id, planCode: 'NO_SUCH_PLAN' } }],
      [CHANGE, { i: { lineId: onPlan.id, planCode: 'NO_SUCH_PLAN' } }],
    ] as const) {
      const r = await h.subscribers.request(query, variables);
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'PLAN_NOT_FOUND', field: 'input.planCode' });
    }
  });

  it("is answered to a customer as an unknown code (NOT_FOUND, no date), on their own line, with nothing written", async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { customerId, accountId } = await account();
    const customer: Caller = { role: 'CUSTOMER', subject: customerId, customerId, scopes: [] };
    const onPlan = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'FAMILY_SHARE_50GB' } })).addLine.line;
    for (const [query, i] of [
      [PREVIEW, { lineId: onPlan.id }],
      [CHANGE, { lineId: onPlan.id, idempotencyKey: 'customer-change' }],
    ] as const) {
      const answer = async (planCode: string) => {
        const before = await h.counts();
        const r = await h.subscribers.request(query, { i: { ...i, planCode } }, customer);
        expect(await h.counts()).toEqual(before);
        const e = r.errors?.[0];
        return { extensions: e?.extensions, message: e?.message.replace(planCode, '<code>') };
      };
      const scheduled = await answer(CODE);
      expect(scheduled.extensions, query).toMatchObject({ code: 'NOT_FOUND', reason: 'PLAN_NOT_FOUND', field: 'input.planCode' });
      expect(JSON.stringify(scheduled), query).not.toContain(LAUNCH);
      expect(scheduled, query).toEqual(await answer('NO_SUCH_PLAN'));
    }
    // Putting a new line on a plan is staff's only (unchanged): refused before the plan is looked up.
    const r = await h.subscribers.request(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: CODE } }, customer);
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('is sold from the date it takes effect', async () => {
    h.clock.set('2026-12-01T00:00:01Z');
    const { accountId } = await account();
    const r = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: CODE } })).addLine;
    expect(r.order.status).toBe('COMPLETED');
    expect(r.line.subscription).toMatchObject({ planCode: CODE, status: 'ACTIVE' });
  });
});
