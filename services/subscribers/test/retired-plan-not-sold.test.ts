import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { LINE_FIELDS, ORDER_FIELDS, startHarness, type FileCatalog, type Harness } from './support';

/**
 * Audit: a RETIRED plan was still sold. Catalog's `currentVersion` ignores the plan's status
 * (TMF620 ProductOffering.lifecycleStatus) and subscribers took whatever current version it got,
 * so `changePlan` (and its preview), `addLine` with a plan and `subscribe` put lines on a plan the
 * product managers had withdrawn. Now each is refused, CONFLICT `PLAN_RETIRED` on `input.planCode`,
 * for customers and staff alike (there is no override), and changes nothing. Lines already on the
 * plan keep it and may change away from it; a change accepted before the retirement (an
 * END_OF_CYCLE change scheduled onto the plan, a retried order) is honoured.
 */
let h: Harness;

const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } } }`;
const SUBSCRIBE = `mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { id planCode status } } }`;
const PREVIEW = `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { timing toPlanCode effectiveAt } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { line { ${LINE_FIELDS} subscriptions { planCode status startsAt endsAt } } order { ${ORDER_FIELDS} } preview { timing } } }`;
const LINE = `query($id: ID!) { line(id: $id) { status planCode subscription { planCode status planVersion { id } } } }`;
const AGENT: Caller = { role: 'AGENT', subject: 'agent-7', scopes: [] };

let n = 0;
const msisdn = () => `+4915124${String(100000 + n++).padStart(6, '0')}`;

const setStatus = (code: string, status: 'PUBLISHED' | 'RETIRED') => {
  (h.catalogClient as FileCatalog).plans.get(code)!.planStatus = status;
};

async function account() {
  const customerId = (await h.ok(CREATE_CUSTOMER, { i: { name: 'Retired Plan Tester', kind: 'INDIVIDUAL', email: 'rp@example.org', timezone: 'Europe/Berlin', creditClass: 'B' } })).createCustomer.customer.id as string;
  const accountId = (await h.ok(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00' } })).openBillingAccount.billingAccount.id as string;
  const customer: Caller = { role: 'CUSTOMER', subject: customerId, customerId, scopes: [] };
  return { customerId, accountId, customer };
}

async function lineOn(accountId: string, planCode?: string) {
  const r = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), ...(planCode ? { planCode } : {}) } })).addLine;
  expect(r.order.status).toBe('COMPLETED');
  return r.line as { id: string; subscription: { planVersion: { id: string } } | null };
}

/** Refused with PLAN_RETIRED on input.planCode, and not a row changed (outbox included). */
async function expectRetiredRefusal(query: string, variables: Record<string, unknown>, caller?: Caller) {
  const before = await h.counts();
  const r = await h.subscribers.request(query, variables, caller);
  expect(r.errors?.[0]?.extensions, JSON.stringify(r.data)).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_RETIRED', field: 'input.planCode' });
  expect(r.errors![0]!.message).toMatch(/FAMILY_SHARE_50GB.*retired/);
  expect(await h.counts()).toEqual(before);
}

beforeAll(async () => {
  h = await startHarness();
});
afterEach(() => {
  for (const code of (h.catalogClient as FileCatalog).plans.keys()) setStatus(code, 'PUBLISHED');
});
afterAll(async () => {
  await h?.close();
});

describe('a RETIRED plan is not sold any more', () => {
  it('refuses a plan change onto it, and its preview, for the customer and for staff', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId, customer } = await account();
    const line = await lineOn(accountId, 'POSTPAID_20GB');
    // Sellable until it is retired.
    expect((await h.ok(PREVIEW, { i: { lineId: line.id, planCode: 'FAMILY_SHARE_50GB' } })).previewPlanChange.toPlanCode).toBe('FAMILY_SHARE_50GB');

    setStatus('FAMILY_SHARE_50GB', 'RETIRED');
    for (const caller of [customer, AGENT, undefined /* SYSTEM */]) {
      await expectRetiredRefusal(PREVIEW, { i: { lineId: line.id, planCode: 'FAMILY_SHARE_50GB' } }, caller);
      await expectRetiredRefusal(CHANGE, { i: { lineId: line.id, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: `retired-${caller?.role ?? 'SYSTEM'}` } }, caller);
      await expectRetiredRefusal(CHANGE, { i: { lineId: line.id, planCode: 'FAMILY_SHARE_50GB' } }, caller);
    }
    expect((await h.ok(LINE, { id: line.id })).line).toMatchObject({ status: 'ACTIVE', planCode: 'POSTPAID_20GB', subscription: { planCode: 'POSTPAID_20GB', status: 'ACTIVE' } });
  });

  it('refuses a new line with it and subscribing a line to it', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await account();
    const bare = await lineOn(accountId);
    setStatus('FAMILY_SHARE_50GB', 'RETIRED');
    for (const caller of [AGENT, undefined]) {
      await expectRetiredRefusal(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'FAMILY_SHARE_50GB', idempotencyKey: `new-${caller?.role ?? 'SYSTEM'}` } }, caller);
      await expectRetiredRefusal(SUBSCRIBE, { i: { lineId: bare.id, planCode: 'FAMILY_SHARE_50GB' } }, caller);
    }
    expect((await h.ok(LINE, { id: bare.id })).line).toMatchObject({ status: 'ACTIVE', planCode: null, subscription: null });
    // The other plans still sell.
    expect((await h.ok(SUBSCRIBE, { i: { lineId: bare.id, planCode: 'POSTPAID_20GB' } })).subscribe.subscription).toMatchObject({ planCode: 'POSTPAID_20GB', status: 'ACTIVE' });
  });

  it('keeps the lines already on it: they stay on their version and may change away from it', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId, customer } = await account();
    const stay = await lineOn(accountId, 'FAMILY_SHARE_50GB');
    const leave = await lineOn(accountId, 'FAMILY_SHARE_50GB');
    const version = stay.subscription!.planVersion.id;
    setStatus('FAMILY_SHARE_50GB', 'RETIRED');

    expect((await h.ok(LINE, { id: stay.id })).line).toEqual({ status: 'ACTIVE', planCode: 'FAMILY_SHARE_50GB', subscription: { planCode: 'FAMILY_SHARE_50GB', status: 'ACTIVE', planVersion: { id: version } } });
    // Suspending and resuming the line does not touch its plan.
    expect((await h.ok(`mutation($i: LineChangeInput!) { suspendLine(input: $i) { order { status } } }`, { i: { lineId: stay.id } })).suspendLine.order.status).toBe('COMPLETED');
    expect((await h.ok(`mutation($i: LineChangeInput!) { resumeLine(input: $i) { order { status } } }`, { i: { lineId: stay.id } })).resumeLine.order.status).toBe('COMPLETED');
    expect((await h.ok(LINE, { id: stay.id })).line.subscription).toEqual({ planCode: 'FAMILY_SHARE_50GB', status: 'ACTIVE', planVersion: { id: version } });

    // A change away (a downgrade: at the cycle end) is quoted and placed, by the customer too.
    expect((await h.subscribers.request(PREVIEW, { i: { lineId: leave.id, planCode: 'POSTPAID_20GB' } }, customer)).data.previewPlanChange).toMatchObject({ timing: 'END_OF_CYCLE', toPlanCode: 'POSTPAID_20GB' });
    const changed = (await h.subscribers.request(CHANGE, { i: { lineId: leave.id, planCode: 'POSTPAID_20GB' } }, customer)).data.changePlan;
    expect(changed.order).toMatchObject({ kind: 'PLAN_CHANGE', status: 'COMPLETED' });
    expect(changed.line.subscriptions.map((s: any) => [s.planCode, s.status])).toEqual([
      ['POSTPAID_20GB', 'SCHEDULED'],
      ['FAMILY_SHARE_50GB', 'ACTIVE'],
    ]);
  });

  it('honours what was accepted before the retirement: an END_OF_CYCLE change scheduled onto it starts, a retried order replays', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await account();
    // A downgrade FAMILY_SHARE_50GB → POSTPAID_20GB waits for the cycle end (Berlin midnight of 1 December).
    const line = await lineOn(accountId, 'FAMILY_SHARE_50GB');
    const changed = (await h.ok(CHANGE, { i: { lineId: line.id, planCode: 'POSTPAID_20GB', idempotencyKey: `down-${line.id}` } })).changePlan;
    expect(changed.preview.timing).toBe('END_OF_CYCLE');
    // And a new line ordered with the plan (another account: one line per account on it), to be retried later with its key.
    const second = (await account()).accountId;
    const ordered = (await h.ok(ADD_LINE, { i: { billingAccountId: second, msisdn: '+4915124999001', planCode: 'POSTPAID_20GB', idempotencyKey: `add-${line.id}` } })).addLine;

    setStatus('POSTPAID_20GB', 'RETIRED');
    // Retries of the orders placed before are the same orders, not new sales.
    const replayedChange = (await h.ok(CHANGE, { i: { lineId: line.id, planCode: 'POSTPAID_20GB', idempotencyKey: `down-${line.id}` } })).changePlan;
    expect(replayedChange.order.id).toBe(changed.order.id);
    const replayedAdd = (await h.ok(ADD_LINE, { i: { billingAccountId: second, msisdn: '+4915124999001', planCode: 'POSTPAID_20GB', idempotencyKey: `add-${line.id}` } })).addLine;
    expect(replayedAdd.order.id).toBe(ordered.order.id);

    const { activateDueSubscriptions } = await import('../src/application/activate-due-subscriptions');
    await h.subscribers.runtime.orm.em.fork().transactional((em) => activateDueSubscriptions(em as never, new Date('2026-11-30T23:00:00Z')));
    expect((await h.ok(LINE, { id: line.id })).line).toMatchObject({ planCode: 'POSTPAID_20GB', subscription: { planCode: 'POSTPAID_20GB', status: 'ACTIVE' } });
  });
});

describe('with the real catalog service', () => {
  let real: Harness;
  beforeAll(async () => {
    real = await startHarness({ realCatalog: true });
  });
  afterAll(async () => {
    await real?.close();
  });

  it("reads the plan's status and refuses a plan retired with retirePlan; reads of the retired plan's version go on", async () => {
    const customerId = (await real.ok(CREATE_CUSTOMER, { i: { name: 'Real Catalog', kind: 'INDIVIDUAL', timezone: 'Europe/Berlin', creditClass: 'B' } })).createCustomer.customer.id;
    const accountId = (await real.ok(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1 } })).openBillingAccount.billingAccount.id;
    const kept = (await real.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: '+4915124888001', planCode: 'FAMILY_SHARE_50GB' } })).addLine;
    expect(kept.order.status).toBe('COMPLETED');
    // On another account: POSTPAID_20GB takes one line per account, and the kept line changes to it below.
    const otherAccountId = (await real.ok(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1 } })).openBillingAccount.billingAccount.id;
    const other = (await real.ok(ADD_LINE, { i: { billingAccountId: otherAccountId, msisdn: '+4915124888002', planCode: 'POSTPAID_20GB' } })).addLine;

    const retired = await real.catalog!.request('mutation { retirePlan(input: { code: "FAMILY_SHARE_50GB" }) { plan { status } } }');
    expect(retired.data.retirePlan.plan.status).toBe('RETIRED');
    expect(await real.catalogClient.currentPlanVersion('FAMILY_SHARE_50GB')).toMatchObject({ code: 'FAMILY_SHARE_50GB', planStatus: 'RETIRED' });
    expect(await real.catalogClient.currentPlanVersion('POSTPAID_20GB')).toMatchObject({ planStatus: 'PUBLISHED' });

    for (const [query, variables] of [
      [ADD_LINE, { i: { billingAccountId: accountId, msisdn: '+4915124888003', planCode: 'FAMILY_SHARE_50GB' } }],
      [CHANGE, { i: { lineId: other.line.id, planCode: 'FAMILY_SHARE_50GB' } }],
      [PREVIEW, { i: { lineId: other.line.id, planCode: 'FAMILY_SHARE_50GB' } }],
    ] as const) {
      const before = await real.counts();
      const r = await real.subscribers.request(query, variables);
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_RETIRED', field: 'input.planCode' });
      expect(await real.counts()).toEqual(before);
    }
    // The line on it keeps its version, whose document is still read by id.
    expect(await real.catalogClient.planVersionDocument(kept.line.subscription.planVersion.id)).toMatchObject({ code: 'FAMILY_SHARE_50GB' });
    expect((await real.ok(PREVIEW, { i: { lineId: kept.line.id, planCode: 'POSTPAID_20GB' } })).previewPlanChange.toPlanCode).toBe('POSTPAID_20GB');
  });
});
