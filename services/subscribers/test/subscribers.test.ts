import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileCatalog, LINE_FIELDS, ORDER_FIELDS, startHarness, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await h.subscribers.request<T>(query, variables);
  if (r.errors) throw new Error(`${r.errors[0]!.message} ${JSON.stringify(r.errors[0]!.extensions)}`);
  return r.data!;
}
async function gqlError(query: string, variables: Record<string, unknown>) {
  const r = await h.subscribers.request(query, variables);
  expect(r.errors, JSON.stringify(r.data)).toBeDefined();
  return r.errors![0]!;
}

const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id creditClass notificationPreferences { email sms push } } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id currency billCycleDay paymentTermsDays autopay parentAccount { id } } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } } }`;
const SUSPEND = `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const RESUME = `mutation($i: LineChangeInput!) { resumeLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status subscription { id } } order { ${ORDER_FIELDS} } } }`;
const PREVIEW = `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { timing effectiveAt periodStart periodEnd total { amount currency } items { kind amount { amount currency } planCode days periodStart periodEnd } prepaid { newPeriodFee { amount } refund { amount } refundDays } } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { line { ${LINE_FIELDS} subscriptions { planCode status startsAt endsAt } } order { ${ORDER_FIELDS} } preview { timing total { amount } } } }`;

let n = 0;
/** A fresh valid German mobile number per call. */
const msisdn = () => `+4915123${String(400000 + n++).padStart(6, '0')}`;

async function family(creditClass = 'B') {
  const c = await gql(CREATE_CUSTOMER, { i: { name: 'Family Weber', kind: 'INDIVIDUAL', email: 'weber@example.org', timezone: 'Europe/Berlin', creditClass } });
  const a = await gql(OPEN_ACCOUNT, { i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, creditLimit: '300.00', autopayToken: 'tok_visa_4Xk29fLq' } });
  return { customerId: c.createCustomer.customer.id as string, accountId: a.openBillingAccount.billingAccount.id as string };
}

describe('family account with three lines on a shared plan', () => {
  it('activates every line through its order, pins the plan version and bills the activation fee', async () => {
    const { customerId, accountId } = await family();
    const child = await gql(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', parentAccountId: accountId, name: 'Kids' } });
    expect(child.openBillingAccount.billingAccount.parentAccount.id).toBe(accountId);

    const lines = [];
    for (let i = 0; i < 3; i++) {
      const r = await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'FAMILY_SHARE_50GB' } });
      expect(r.addLine.order).toMatchObject({ kind: 'NEW_LINE', status: 'COMPLETED', failureCode: null });
      expect(r.addLine.line).toMatchObject({ status: 'ACTIVE', planCode: 'FAMILY_SHARE_50GB', subscription: { status: 'ACTIVE', sharedAllowances: true } });
      lines.push(r.addLine.line);
    }
    const version = (await h.catalogClient.currentPlanVersion('FAMILY_SHARE_50GB'))!.versionId;
    expect(new Set(lines.map((l) => l.subscription.planVersion.id))).toEqual(new Set([version]));
    for (const l of lines) expect(h.sandbox.network.get(l.msisdn)).toMatchObject({ status: 'ACTIVE', planCode: 'FAMILY_SHARE_50GB' });

    const read = await gql(`query($id: ID!) { billingAccount(id: $id) { autopay creditLimit { amount currency } customer { id } childAccounts { id } lines { msisdn status } oneOffCharges { kind reason amount { amount currency } } } }`, { id: accountId });
    expect(read.billingAccount.lines).toHaveLength(3);
    expect(read.billingAccount.autopay).toBe(true);
    // Partners read the account event: it says autopay, never the token; invoicing asks for it as SYSTEM.
    const opened = await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.billingaccount.created' and payload like $1`, [`%${accountId}%`]);
    expect(JSON.parse(opened[0]!.payload).data).toMatchObject({ billingAccountId: accountId, autopay: true });
    expect(opened[0]!.payload).not.toContain('tok_visa_4Xk29fLq');
    const TOKEN = 'query($id: ID!) { autopayToken(billingAccountId: $id) }';
    expect((await h.subscribers.request<any>(TOKEN, { id: accountId }, { role: 'SYSTEM', subject: 'invoicing', scopes: [] })).data).toEqual({ autopayToken: 'tok_visa_4Xk29fLq' });
    expect((await h.subscribers.request<any>(TOKEN, { id: accountId }, { role: 'ADMIN', subject: 'ops', scopes: [] })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN'); // not even an ADMIN
    expect(read.billingAccount.childAccounts).toHaveLength(1);
    expect(read.billingAccount.oneOffCharges).toEqual(Array(3).fill({ kind: 'CHARGE', reason: 'ACTIVATION_FEE', amount: { amount: '9.99', currency: 'EUR' } }));

    // Events through the outbox: the line walked PENDING → ACTIVE, the subscription PENDING → ACTIVE, with full data.
    const events = await h.rows<{ subject: string; payload: string }>(`select subject, payload from outbox where payload like $1 order by seq`, [`%${lines[0].id}%`]);
    const subjects = events.map((e) => e.subject);
    expect(subjects).toEqual(expect.arrayContaining(['billing.subscribers.line.statechanged', 'billing.subscribers.subscription.created', 'billing.subscribers.subscription.changed', 'billing.subscribers.productorder.statechanged', 'billing.subscribers.oneoffcharge.created']));
    const lineStates = events.filter((e) => e.subject === 'billing.subscribers.line.statechanged').map((e) => JSON.parse(e.payload).data);
    expect(lineStates).toEqual([
      { lineId: lines[0].id, msisdn: lines[0].msisdn, billingAccountId: accountId, status: 'PENDING' },
      { lineId: lines[0].id, msisdn: lines[0].msisdn, billingAccountId: accountId, status: 'ACTIVE' },
    ]);
    const subActive = JSON.parse(events.find((e) => e.subject === 'billing.subscribers.subscription.changed')!.payload);
    expect(subActive.type).toBe('ProductAttributeValueChangeEvent');
    expect(subActive.data).toEqual({
      subscriptionId: lines[0].subscription.id,
      lineId: lines[0].id,
      msisdn: lines[0].msisdn,
      billingAccountId: accountId,
      paymentMode: 'POSTPAID',
      currency: 'EUR',
      planCode: 'FAMILY_SHARE_50GB',
      planVersionId: version,
      status: 'ACTIVE',
      startsAt: '2026-11-16T10:00:00.000Z',
      endsAt: null,
      addOns: [],
    });
  });

  it('refuses a sixth line on a five-line family plan and changes nothing', async () => {
    const { accountId } = await family();
    for (let i = 0; i < 5; i++) await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'FAMILY_SHARE_50GB' } });
    const before = await h.counts();
    const e = await gqlError(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'FAMILY_SHARE_50GB' } });
    expect(e.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'PLAN_NOT_ELIGIBLE', field: 'input.planCode' });
    expect(await h.counts()).toEqual(before);
  });
});

describe('line lifecycle through orders', () => {
  it('suspends, refuses an illegal transition, resumes, terminates, then recycles the MSISDN', async () => {
    const { accountId } = await family();
    const number = msisdn();
    const line = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number, planCode: 'POSTPAID_20GB' } })).addLine.line;
    expect((await gql(SUSPEND, { i: { lineId: line.id, reason: 'lost phone' } })).suspendLine).toMatchObject({ line: { status: 'SUSPENDED' }, order: { kind: 'SUSPEND', status: 'COMPLETED' } });
    expect(h.sandbox.network.get(number)?.status).toBe('SUSPENDED');

    const before = await h.counts();
    const e = await gqlError(SUSPEND, { i: { lineId: line.id } });
    expect(e.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LINE_ILLEGAL_TRANSITION', field: 'input.lineId' });
    expect(await h.counts()).toEqual(before);

    expect((await gql(RESUME, { i: { lineId: line.id } })).resumeLine.line.status).toBe('ACTIVE');
    const t = (await gql(TERMINATE, { i: { lineId: line.id } })).terminateLine;
    expect(t).toMatchObject({ line: { status: 'TERMINATED', subscription: null }, order: { status: 'COMPLETED' } });
    expect((await gqlError(RESUME, { i: { lineId: line.id } })).extensions).toMatchObject({ code: 'CONFLICT', reason: 'LINE_ILLEGAL_TRANSITION' });
    const [ended] = await h.rows<{ status: string; ends_at: Date }>(`select status, ends_at from subscription where line_id = $1`, [line.id]);
    expect(ended!.status).toBe('ENDED');
    // A terminated line's number may be given to someone else.
    const again = await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number } });
    expect(again.addLine.line).toMatchObject({ msisdn: number, status: 'ACTIVE' });
    const byMsisdn = await gql(`query($m: String!) { lineByMsisdn(msisdn: $m) { id } }`, { m: number });
    expect(byMsisdn.lineByMsisdn.id).toBe(again.addLine.line.id);
  });

  it('is idempotent by key: same input → same order, other input → CONFLICT', async () => {
    const { accountId } = await family();
    const input = { billingAccountId: accountId, msisdn: msisdn(), planCode: 'POSTPAID_20GB', idempotencyKey: `crm-${n}` };
    const first = (await gql(ADD_LINE, { i: input })).addLine;
    const second = (await gql(ADD_LINE, { i: input })).addLine;
    expect(second.order.id).toBe(first.order.id);
    const e = await gqlError(ADD_LINE, { i: { ...input, msisdn: msisdn() } });
    expect(e.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
  });
});

describe('provisioning failures compensate', () => {
  it('a network that applies then errors is rolled back, the order FAILS and the line stays PENDING', async () => {
    const { accountId } = await family();
    const number = msisdn();
    h.sandbox.behave('NEW_LINE', number, { mode: 'fail-after-apply' });
    const r = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number, planCode: 'POSTPAID_20GB' } })).addLine;
    expect(r.order).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_FAILED' });
    expect(r.line).toMatchObject({ status: 'PENDING', subscription: { status: 'PENDING' } });
    expect(h.sandbox.network.has(number)).toBe(false);
    expect(h.sandbox.calls.filter((c) => c.msisdn === number).map((c) => c.op)).toEqual(['execute', 'execute', 'compensate']);
    const charges = await h.rows(`select * from one_off_charge where line_id = $1`, [r.line.id]);
    expect(charges).toEqual([]);
    const states = await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.productorder.statechanged' and payload like $1 order by seq`, [`%${r.order.id}%`]);
    expect(states.map((s) => JSON.parse(s.payload).data.status)).toEqual(['ACKNOWLEDGED', 'IN_PROGRESS', 'FAILED']);
  });

  it('a hung network times out (PROVISIONING_TIMEOUT); a refusal is not retried', async () => {
    const { accountId } = await family();
    const hung = msisdn();
    h.sandbox.behave('NEW_LINE', hung, { mode: 'hang' });
    const r = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: hung } })).addLine;
    expect(r.order).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_TIMEOUT' });

    const refused = msisdn();
    h.sandbox.behave('NEW_LINE', refused, { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
    const r2 = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: refused } })).addLine;
    expect(r2.order).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' });
    expect(h.sandbox.calls.filter((c) => c.msisdn === refused).map((c) => c.op)).toEqual(['execute', 'compensate']);

    const flaky = msisdn();
    h.sandbox.behave('NEW_LINE', flaky, { mode: 'flaky', times: 1 });
    expect((await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: flaky } })).addLine.order.status).toBe('COMPLETED');
  });
});

describe('plan change with proration', () => {
  it('previews the change to the period\'s bill without committing, then an upgrade applies at once and is billed by the plans held, not by one-offs', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await family();
    const line = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine.line;

    const before = await h.counts();
    const preview = (await gql(PREVIEW, { i: { lineId: line.id, planCode: 'FAMILY_SHARE_50GB' } })).previewPlanChange;
    expect(await h.counts()).toEqual(before);
    expect(preview).toMatchObject({ timing: 'IMMEDIATE', periodStart: '2026-11-01', periodEnd: '2026-12-01', total: { amount: '15.00', currency: 'EUR' } });
    expect(preview.items).toEqual([
      { kind: 'CREDIT', amount: { amount: '-14.99', currency: 'EUR' }, planCode: 'POSTPAID_20GB', days: 15, periodStart: '2026-11-16', periodEnd: '2026-12-01' },
      { kind: 'CHARGE', amount: { amount: '29.99', currency: 'EUR' }, planCode: 'FAMILY_SHARE_50GB', days: 15, periodStart: '2026-11-16', periodEnd: '2026-12-01' },
    ]);

    const changed = (await gql(CHANGE, { i: { lineId: line.id, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: `chg-${line.id}` } })).changePlan;
    expect(changed.order).toMatchObject({ kind: 'PLAN_CHANGE', status: 'COMPLETED' });
    expect(changed.line).toMatchObject({ planCode: 'FAMILY_SHARE_50GB', subscription: { planCode: 'FAMILY_SHARE_50GB', status: 'ACTIVE' } });
    expect(changed.line.subscriptions.map((s: any) => [s.planCode, s.status])).toEqual(
      expect.arrayContaining([
        ['FAMILY_SHARE_50GB', 'ACTIVE'],
        ['POSTPAID_20GB', 'ENDED'],
      ]),
    );
    // The preview's credit and charge are an estimate, kept on the order: no one-off charge is made
    // of them. Invoicing bills the period's fees from the subscriptions (POSTPAID_20GB until the
    // change, FAMILY_SHARE_50GB from it); one-offs on top billed the change twice (until 2026-12).
    expect(JSON.parse((await h.rows<{ request: string }>(`select request from product_order where id = $1`, [changed.order.id]))[0]!.request)).toMatchObject({ timing: 'IMMEDIATE', effectiveAt: '2026-11-16T10:00:00.000Z', total: { amount: '15.00' } });
    expect(await h.rows(`select kind, amount::text, reason from one_off_charge where line_id = $1 and reason = 'PLAN_CHANGE_PRORATION'`, [line.id])).toEqual([]);
    const billed = async () => {
      const events = await h.rows<{ subject: string; payload: string }>(`select subject, payload from outbox where (subject like 'billing.subscribers.subscription.%' or subject = 'billing.subscribers.oneoffcharge.created') and payload like $1 order by seq`, [`%${line.id}%`]);
      return events.map((e) => ({ subject: e.subject.split('.').slice(2).join('.'), time: JSON.parse(e.payload).time, data: JSON.parse(e.payload).data }));
    };
    const events = await billed();
    expect(events.filter((e) => e.subject === 'oneoffcharge.created').map((e) => e.data.reason)).toEqual(['ACTIVATION_FEE']);
    // What invoicing prorates by: the old plan ends and the new one starts at the change.
    expect(events.filter((e) => e.subject.startsWith('subscription.')).slice(-2).map((e) => [e.subject, e.time, e.data.planCode, e.data.status, e.data.startsAt, e.data.endsAt])).toEqual([
      ['subscription.changed', '2026-11-16T10:00:00.000Z', 'POSTPAID_20GB', 'ENDED', '2026-11-16T10:00:00.000Z', '2026-11-16T10:00:00.000Z'],
      ['subscription.created', '2026-11-16T10:00:00.000Z', 'FAMILY_SHARE_50GB', 'ACTIVE', '2026-11-16T10:00:00.000Z', null],
    ]);
    // Replaying the same key returns the same order and changes nothing more.
    const replay = (await gql(CHANGE, { i: { lineId: line.id, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: `chg-${line.id}` } })).changePlan;
    expect(replay.order.id).toBe(changed.order.id);
    expect(await billed()).toEqual(events);
    expect(await h.rows(`select id from one_off_charge where line_id = $1 and reason = 'PLAN_CHANGE_PRORATION'`, [line.id])).toEqual([]);
  });

  it('a downgrade waits for the end of the cycle, then the sweep switches it on', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await family();
    const line = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'FAMILY_SHARE_50GB' } })).addLine.line;
    const changed = (await gql(CHANGE, { i: { lineId: line.id, planCode: 'POSTPAID_20GB' } })).changePlan;
    expect(changed.preview).toMatchObject({ timing: 'END_OF_CYCLE', total: { amount: '0' } });
    expect(changed.line.planCode).toBe('FAMILY_SHARE_50GB');
    // Berlin midnight of Dec 1 = 23:00 UTC Nov 30.
    expect(changed.line.subscriptions.map((s: any) => [s.planCode, s.status, s.startsAt, s.endsAt])).toEqual([
      ['POSTPAID_20GB', 'SCHEDULED', '2026-11-30T23:00:00.000Z', null],
      ['FAMILY_SHARE_50GB', 'ACTIVE', '2026-11-16T10:00:00.000Z', '2026-11-30T23:00:00.000Z'],
    ]);
    expect((await gqlError(CHANGE, { i: { lineId: line.id, planCode: 'FAMILY_SHARE_50GB' } })).extensions).toMatchObject({ reason: 'PLAN_CHANGE_ALREADY_SCHEDULED', code: 'CONFLICT' });

    const { activateDueSubscriptions } = await import('../src/application/activate-due-subscriptions');
    const sweep = (at: string) => h.subscribers.runtime.orm.em.fork().transactional((em) => activateDueSubscriptions(em as never, new Date(at)));
    await sweep('2026-11-30T22:59:59Z');
    expect((await gql(`query($id: ID!) { line(id: $id) { planCode } }`, { id: line.id })).line.planCode).toBe('FAMILY_SHARE_50GB');
    await sweep('2026-11-30T23:00:00Z');
    const after = await gql(`query($id: ID!) { line(id: $id) { planCode subscription { planCode status } } }`, { id: line.id });
    expect(after.line).toEqual({ planCode: 'POSTPAID_20GB', subscription: { planCode: 'POSTPAID_20GB', status: 'ACTIVE' } });
  });
});

describe('plan change on a prepaid line', () => {
  it('never cuts a paid bundle period short: a change from the bundle waits for its end, a change to one applies at once; the balance settles the fees', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { customerId } = await family();
    const prepaid = async () => (await gql(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'PREPAID', currency: 'EUR', billCycleDay: 1 } })).openBillingAccount.billingAccount.id;
    const bundle = (await gql(ADD_LINE, { i: { billingAccountId: await prepaid(), msisdn: msisdn(), planCode: 'PREPAID_BUNDLE_30D' } })).addLine.line;
    const payg = (await gql(ADD_LINE, { i: { billingAccountId: await prepaid(), msisdn: msisdn(), planCode: 'PREPAID_PAYG' } })).addLine.line;

    // The bundle paid 30 days from 16 November 10:00: dropping it waits for 16 December, not the bill cycle (1 December).
    const down = (await gql(PREVIEW, { i: { lineId: bundle.id, planCode: 'PREPAID_PAYG' } })).previewPlanChange;
    expect(down).toEqual({ timing: 'END_OF_CYCLE', effectiveAt: '2026-12-16T10:00:00.000Z', periodStart: '2026-11-16', periodEnd: '2026-12-16', total: { amount: '0', currency: 'EUR' }, items: [], prepaid: { newPeriodFee: null, refund: null, refundDays: 0 } });
    // Pay as you go has no paid period: the bundle starts now, paid from the balance by wallets as it starts (no prorated one-offs).
    const up = (await gql(CHANGE, { i: { lineId: payg.id, planCode: 'PREPAID_BUNDLE_30D' } })).changePlan;
    expect(up.preview).toMatchObject({ timing: 'IMMEDIATE', total: { amount: '0' } });
    expect(up.line.subscription).toMatchObject({ planCode: 'PREPAID_BUNDLE_30D', status: 'ACTIVE' });
    expect(await h.rows(`select id from one_off_charge where line_id = $1 and reason = 'PLAN_CHANGE_PRORATION'`, [payg.id])).toEqual([]);
  });

  it('a daily-prorating prepaid bundle changed at once: the preview says what the balance gives back and pays, and no one-off bills it twice', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    // Two prepaid plans whose fees prorate daily (none ships; product managers can publish them).
    const catalog = h.catalogClient as FileCatalog;
    const bundle = (await catalog.currentPlanVersion('PREPAID_BUNDLE_30D'))!;
    for (const [code, amount] of [['PREPAID_DAILY_S', '15.00'], ['PREPAID_DAILY_L', '30.00']] as const) {
      const document = { ...(bundle.document as Record<string, unknown>), code, recurringFee: { amount, period: 'DAYS30', proration: 'DAILY' } };
      catalog.plans.set(code, { ...bundle, code, planId: `pln_${code}`, versionId: `plv_${code}_1`, document });
    }
    const { customerId } = await family();
    const prepaid = (await gql(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'PREPAID', currency: 'EUR', billCycleDay: 1 } })).openBillingAccount.billingAccount.id;
    const line = (await gql(ADD_LINE, { i: { billingAccountId: prepaid, msisdn: msisdn(), planCode: 'PREPAID_DAILY_S' } })).addLine.line;
    // Ten days later (26 November 10:00): 20 whole days of the 30 the 15.00 paid for are unused.
    h.clock.set('2026-11-26T10:00:00Z');
    const preview = (await gql(PREVIEW, { i: { lineId: line.id, planCode: 'PREPAID_DAILY_L' } })).previewPlanChange;
    expect(preview).toMatchObject({ timing: 'IMMEDIATE', effectiveAt: '2026-11-26T10:00:00.000Z', periodStart: '2026-11-16', periodEnd: '2026-12-16', items: [], total: { amount: '0' } });
    expect(preview.prepaid).toEqual({ newPeriodFee: { amount: '30.00' }, refund: { amount: '10.00' }, refundDays: 20 });
    const changed = (await gql(CHANGE, { i: { lineId: line.id, planCode: 'PREPAID_DAILY_L' } })).changePlan;
    expect(changed.preview).toMatchObject({ timing: 'IMMEDIATE', total: { amount: '0' } });
    // Before, this billed "20 day(s) of PREPAID_DAILY_L" as a one-off on top of the full period wallets takes.
    expect(await h.rows(`select kind from one_off_charge where line_id = $1 and reason = 'PLAN_CHANGE_PRORATION'`, [line.id])).toEqual([]);
  });
});

describe('add-ons', () => {
  it('adds a data boost to the current subscription, bills it once, and refuses it twice', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await family();
    const line = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine.line;
    const ADD = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { line { subscription { addOns { code startsAt endsAt } } } order { ${ORDER_FIELDS} } } }`;
    const r = (await gql(ADD, { i: { lineId: line.id, offerCode: 'DATA_BOOST_5GB' } })).addAddOn;
    expect(r.order).toMatchObject({ kind: 'ADD_ON', status: 'COMPLETED' });
    expect(r.line.subscription.addOns).toEqual([{ code: 'DATA_BOOST_5GB', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-12-16T10:00:00.000Z' }]);
    const charges = await h.rows<{ amount: string; reason: string }>(`select amount::text, reason from one_off_charge where line_id = $1 and reason = 'ADD_ON_PURCHASE'`, [line.id]);
    expect(charges).toEqual([{ amount: '5.0000', reason: 'ADD_ON_PURCHASE' }]);
    const changed = await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.subscription.changed' and payload like $1 order by seq desc limit 1`, [`%${line.id}%`]);
    expect(JSON.parse(changed[0]!.payload).data.addOns).toEqual([{ code: 'DATA_BOOST_5GB', startsAt: '2026-11-16T10:00:00.000Z', endsAt: '2026-12-16T10:00:00.000Z' }]);

    const before = await h.counts();
    expect((await gqlError(ADD, { i: { lineId: line.id, offerCode: 'DATA_BOOST_5GB' } })).extensions).toMatchObject({ code: 'CONFLICT', reason: 'ADDON_ALREADY_ACTIVE', field: 'input.offerCode' });
    expect((await gqlError(ADD, { i: { lineId: line.id, offerCode: 'NO_SUCH_OFFER' } })).extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'OFFER_NOT_FOUND', field: 'input.offerCode' });
    expect(await h.counts()).toEqual(before);
  });
});

describe('outbox relay', () => {
  it('publishes every queued event to JetStream', async () => {
    const deadline = Date.now() + 10_000;
    let pending = -1;
    while (Date.now() < deadline) {
      pending = Number((await h.rows<{ n: number }>(`select count(*)::int as n from outbox where published_at is null`))[0]!.n);
      if (pending === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(pending).toBe(0);
    expect((await h.counts()).outbox).toBeGreaterThan(50);
  });
});

describe('authorization', () => {
  it('a customer sees and changes only their own lines; anonymous callers see nothing', async () => {
    const mine = await family();
    const theirs = await family();
    const myLine = (await gql(ADD_LINE, { i: { billingAccountId: mine.accountId, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine.line;
    const theirLine = (await gql(ADD_LINE, { i: { billingAccountId: theirs.accountId, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine.line;
    const me = { role: 'CUSTOMER' as const, subject: mine.customerId, customerId: mine.customerId, scopes: [] };
    const READ = `query($id: ID!) { line(id: $id) { id status } }`;

    expect((await h.subscribers.request(READ, { id: myLine.id }, me)).data.line).toEqual({ id: myLine.id, status: 'ACTIVE' });
    expect((await h.subscribers.request(READ, { id: theirLine.id }, me)).data.line).toBeNull();
    expect((await h.subscribers.request(`{ customers { totalCount } }`, {}, me)).errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect((await h.subscribers.request(ADD_LINE, { i: { billingAccountId: mine.accountId, msisdn: msisdn() } }, me)).errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect((await h.subscribers.request(PREVIEW, { i: { lineId: myLine.id, planCode: 'FAMILY_SHARE_50GB' } }, me)).data.previewPlanChange.timing).toBe('IMMEDIATE');
    // Another customer's line answers as one that does not exist (customer-ids-not-probed.test.ts).
    expect((await h.subscribers.request(SUSPEND, { i: { lineId: theirLine.id } }, me)).errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'LINE_NOT_FOUND', field: 'input.lineId' });
    expect((await h.subscribers.request(SUSPEND, { i: { lineId: myLine.id } }, me)).data.suspendLine.line.status).toBe('SUSPENDED');
    expect((await h.subscribers.request(RESUME, { i: { lineId: myLine.id } }, me)).errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect((await h.subscribers.request(READ, { id: myLine.id }, { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] })).errors![0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});

describe('order steps under retries', () => {
  it('two overlapping completeOrder calls apply the plan change once', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId } = await family();
    const line = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine.line;
    // Place the order without dispatching it, as the Temporal dispatcher would leave it.
    const { changePlan } = await import('../src/application/plan-change');
    const placed = await h.subscribers.runtime.orm.em.fork().transactional((em) => changePlan(em as never, h.catalogClient, { lineId: line.id, planCode: 'FAMILY_SHARE_50GB', now: h.clock.now() }));
    const STEP = (name: string) => `mutation($i: OrderStepInput!) { ${name}(input: $i) { order { status } } }`;
    expect((await gql(STEP('startOrder'), { i: { orderId: placed.order.id } })).startOrder.order.status).toBe('IN_PROGRESS');
    const [a, b] = await Promise.all([gql(STEP('completeOrder'), { i: { orderId: placed.order.id } }), gql(STEP('completeOrder'), { i: { orderId: placed.order.id } })]);
    expect([a.completeOrder.order.status, b.completeOrder.order.status]).toEqual(['COMPLETED', 'COMPLETED']);
    // Once: one new subscription, announced once (the change is billed from it, with no one-offs).
    expect(await h.rows(`select id from one_off_charge where order_id = $1`, [placed.order.id])).toEqual([]);
    expect(await h.rows(`select id from subscription where line_id = $1 and status = 'ACTIVE'`, [line.id])).toHaveLength(1);
    expect(await h.rows(`select id from subscription where line_id = $1 and status = 'ENDED'`, [line.id])).toHaveLength(1);
    expect(await h.rows(`select seq from outbox where subject = 'billing.subscribers.subscription.created' and payload like $1 and payload like '%FAMILY_SHARE_50GB%'`, [`%${line.id}%`])).toHaveLength(1);
    // A completed order cannot fail afterwards.
    expect((await gqlError(STEP('failOrder'), { i: { orderId: placed.order.id, failureCode: 'X' } })).extensions).toMatchObject({ code: 'CONFLICT', reason: 'ORDER_ILLEGAL_TRANSITION' });
  });
});

describe('changing an account: credit limit and autopay', () => {
  const UPDATE = `mutation($i: UpdateBillingAccountInput!) { updateBillingAccount(input: $i) { billingAccount { id autopay creditLimit { amount } } changed } }`;
  const TOKEN = 'query($id: ID!) { autopayToken(billingAccountId: $id) }';
  const SYSTEM = { role: 'SYSTEM' as const, subject: 'invoicing', scopes: [] };
  const changedEvents = async (accountId: string) =>
    (await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.billingaccount.changed' and payload like $1 order by seq`, [`%${accountId}%`])).map((r) => r.payload);

  it('staff change the credit limit, the customer their autopay token; each change is one event that never carries the token', async () => {
    const { customerId, accountId } = await family();
    const me = { role: 'CUSTOMER' as const, subject: customerId, customerId, scopes: [] };

    expect((await gql(UPDATE, { i: { billingAccountId: accountId, creditLimit: '450.00' } })).updateBillingAccount).toEqual({ billingAccount: { id: accountId, autopay: true, creditLimit: { amount: '450.00' } }, changed: ['creditLimit'] });
    // The same limit again changes nothing and tells nobody.
    expect((await gql(UPDATE, { i: { billingAccountId: accountId, creditLimit: '450' } })).updateBillingAccount.changed).toEqual([]);
    // The customer pays with a new card (a new token); only staff touch the limit.
    expect((await h.subscribers.request<any>(UPDATE, { i: { billingAccountId: accountId, autopayToken: 'tok_mc_9Hd72kPq' } }, me)).data.updateBillingAccount.changed).toEqual(['autopay']);
    expect((await h.subscribers.request<any>(UPDATE, { i: { billingAccountId: accountId, creditLimit: '5000' } }, me)).errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect((await h.subscribers.request<any>(TOKEN, { id: accountId }, SYSTEM)).data).toEqual({ autopayToken: 'tok_mc_9Hd72kPq' });
    // ...and turns autopay off.
    expect((await h.subscribers.request<any>(UPDATE, { i: { billingAccountId: accountId, autopayToken: null } }, me)).data.updateBillingAccount).toEqual({ billingAccount: { id: accountId, autopay: false, creditLimit: { amount: '450.00' } }, changed: ['autopay'] });
    expect((await h.subscribers.request<any>(TOKEN, { id: accountId }, SYSTEM)).data).toEqual({ autopayToken: null });

    const events = await changedEvents(accountId);
    expect(events.map((p) => JSON.parse(p).data)).toEqual([
      { billingAccountId: accountId, customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '450', autopay: true, partnerId: null, partnerVersion: 0, changed: ['creditLimit'] },
      { billingAccountId: accountId, customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '450', autopay: true, partnerId: null, partnerVersion: 0, changed: ['autopay'] },
      { billingAccountId: accountId, customerId, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '450', autopay: false, partnerId: null, partnerVersion: 0, changed: ['autopay'] },
    ]);
    for (const p of events) expect(p).not.toMatch(/tok_/);

    // Someone else's account is not the customer's to change: it answers as one that does not exist.
    const other = await family();
    expect((await h.subscribers.request<any>(UPDATE, { i: { billingAccountId: other.accountId, autopayToken: 'tok_mc_9Hd72kPq' } }, me)).errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'BILLINGACCOUNT_NOT_FOUND' });
    expect((await h.subscribers.request<any>(TOKEN, { id: other.accountId }, SYSTEM)).data).toEqual({ autopayToken: 'tok_visa_4Xk29fLq' });
  });

  it('refuses a card number, a negative limit, a limit finer than a cent and a limit on a prepaid account, naming the field and changing nothing', async () => {
    const { customerId, accountId } = await family();
    const prepaid = (await gql(OPEN_ACCOUNT, { i: { customerId, paymentMode: 'PREPAID', currency: 'EUR' } })).openBillingAccount.billingAccount.id;
    const cases: [Record<string, unknown>, string, string][] = [
      [{ billingAccountId: accountId, autopayToken: '4111 1111 1111 1111' }, 'input.autopayToken', 'AUTOPAY_TOKEN_IS_CARD_NUMBER'],
      [{ billingAccountId: accountId, creditLimit: '-1' }, 'input.creditLimit', 'CREDIT_LIMIT_INVALID'],
      [{ billingAccountId: accountId, creditLimit: '800.1234567' }, 'input.creditLimit', 'AMOUNT_PRECISION'],
      [{ billingAccountId: prepaid, creditLimit: '100' }, 'input.creditLimit', 'CREDIT_LIMIT_NOT_ALLOWED'],
      [{ billingAccountId: 'acc_nope', creditLimit: '100' }, 'input.billingAccountId', 'BILLINGACCOUNT_NOT_FOUND'],
    ];
    for (const [input, field, reason] of cases) {
      expect((await gqlError(UPDATE, { i: input })).extensions, reason).toMatchObject({ reason, field });
    }
    // A bad token with a good limit: the whole call is refused.
    expect((await gqlError(UPDATE, { i: { billingAccountId: accountId, creditLimit: '999', autopayToken: 'x' } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.autopayToken' });
    expect((await gql(`query($id: ID!) { billingAccount(id: $id) { autopay creditLimit { amount } } }`, { id: accountId })).billingAccount).toEqual({ autopay: true, creditLimit: { amount: '300.00' } });
    expect(await changedEvents(accountId)).toEqual([]);
  });
});
