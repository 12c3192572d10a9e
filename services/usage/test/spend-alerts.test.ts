/**
 * Spend alerts a customer sets ("tell me when this month's bill passes 50 EUR"): setSpendAlert / clearSpendAlert and
 * BillingAccount.spendAlerts, on the real usage service (PostgreSQL, NATS for the owner's billingaccount.created).
 *
 * Before, only the operator's plan rules (DATA_80_PERCENT) and wallets' low-balance alerts warned a customer; a
 * postpaid customer could not choose a threshold of their own. Now the account's (or one line's) usage charges in the
 * bill period (the account's bill-cycle day in its time zone: 1 March 00:00 Berlin = 28 Feb 23:00 UTC) are checked
 * as each event is rated, for accounts with alerts only; the event that takes the spend to the alert's amount asks
 * for one SPEND_ALERT customer notification (usageNotificationRequested), once per alert, amount and period, for
 * good: not again on a redelivery, after a restart, or when the ledger lowered the spend and later usage passed the
 * amount again. An alert set when the spend is already past it is told at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, EVENTS, type Caller } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { RECORD_USAGE, filePlanSource, setLine, settleCharges, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_sa${run}`;
const otherAccount = `acc_sb${run}`;
const quietAccount = `acc_sq${run}`;
const owner = `cus_sa${run}`;
const lineA = `lin_sa${run}`;
const lineB = `lin_sb${run}`;
const strangersLine = `lin_sx${run}`;
const quietLine = `lin_sq${run}`;
const OWNER: Caller = { role: 'CUSTOMER', subject: 'the-owner', customerId: owner, scopes: [] };
const STRANGER: Caller = { role: 'CUSTOMER', subject: 'someone-else', customerId: `cus_other${run}`, scopes: [] };
const AGENT: Caller = { role: 'AGENT', subject: 'care', scopes: [] };

const SET = `mutation($i: SetSpendAlertInput!) { setSpendAlert(input: $i) { spendAlert { id billingAccountId lineId amount { amount currency } period periodStart periodEnd spent { amount currency } notified } } }`;
const CLEAR = `mutation($i: ClearSpendAlertInput!) { clearSpendAlert(input: $i) { cleared } }`;
const ALERTS = `query($id: ID!) { _entities(representations: [{ __typename: "BillingAccount", id: $id }]) { ... on BillingAccount { spendAlerts { lineId amount { amount currency } period spent { amount } notified } } } }`;

async function opened(billingAccountId: string, customerId: string) {
  const event = createCloudEvent({
    source: 'ledgerline/subscribers',
    type: EVENTS.billingAccountCreated.type,
    subject: billingAccountId,
    time: new Date('2026-01-01T00:00:00Z'),
    data: { billingAccountId, customerId, parentAccountId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false, partnerId: null, partnerVersion: 0 },
    key: [billingAccountId],
  });
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(event), { msgID: event.id });
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['owners'], deliverNew: true }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: lineA, msisdn: '+4915100009801', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: lineB, msisdn: '+4915100009802', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: strangersLine, msisdn: '+4915100009803', account: otherAccount, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: quietLine, msisdn: '+4915100009804', account: quietAccount, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await opened(account, owner);
  await opened(otherAccount, `cus_other${run}`);
  await waitFor(async () => (await db.query('select 1 from account_owner where billing_account_id = any($1) and timezone is not null', [[account, otherAccount]])).rowCount === 2, 15_000, 'the owners from billingaccount.created');
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

let seq = 0;
/** Roaming data outside the EU (Brazil): 0.49 EUR per MB on the postpaid plan, none of it in the allowance. */
async function roam(lineId: string, mb: string, eventId = `e${++seq}`, occurredAt = '2026-03-18T10:00:00Z') {
  const res = await svc.request(RECORD_USAGE, { input: { source: `sa-${run}`, records: [{ eventId, lineId, usageType: 'DATA', quantity: mb, roamingCountry: 'BR', occurredAt }] } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.recordUsage;
}

/** The SPEND_ALERT notifications usage emitted (ever: emitted_event keeps them after the outbox prunes the rows). */
async function spendNotices(of = account) {
  const { rows } = await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageNotificationRequested.subject]);
  return rows.map((r) => JSON.parse(r.payload)).filter((e) => e.data.template === 'SPEND_ALERT' && e.data.billingAccountId === of).map((e) => ({ subject: e.subject, ...e.data }));
}

const set = (i: Record<string, unknown>, caller: Caller = OWNER) => svc.request(SET, { i }, caller);
const EUR = (amount: string) => ({ amount, currency: 'EUR' });

describe('spend alerts', () => {
  it('refuses bad input naming the field, and other customers', async () => {
    const codeOf = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => [res.errors?.[0]?.extensions?.code, res.errors?.[0]?.extensions?.field];
    expect(codeOf(await set({ billingAccountId: account, amount: { amount: '50', currency: 'USD' }, idempotencyKey: 'bad-1' }))).toEqual(['BAD_USER_INPUT', 'input.amount.currency']);
    expect(codeOf(await set({ billingAccountId: account, amount: EUR('0'), idempotencyKey: 'bad-2' }))).toEqual(['BAD_USER_INPUT', 'input.amount.amount']);
    expect(codeOf(await set({ billingAccountId: account, amount: EUR('-1'), idempotencyKey: 'bad-3' }))).toEqual(['BAD_USER_INPUT', 'input.amount.amount']);
    expect(codeOf(await set({ billingAccountId: account, amount: EUR('10.001'), idempotencyKey: 'bad-4' }))).toEqual(['BAD_USER_INPUT', 'input.amount.amount']);
    expect(codeOf(await set({ billingAccountId: account, lineId: strangersLine, amount: EUR('10'), idempotencyKey: 'bad-5' }))).toEqual(['BAD_USER_INPUT', 'input.lineId']);
    expect(codeOf(await set({ billingAccountId: account, amount: EUR('10'), idempotencyKey: '' }))).toEqual(['BAD_USER_INPUT', 'input.idempotencyKey']);
    expect((await set({ billingAccountId: account, amount: EUR('10'), idempotencyKey: 'x' }, STRANGER)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await svc.request(ALERTS, { id: account }, STRANGER)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await svc.request(ALERTS, { id: account }, OWNER)).data._entities[0].spendAlerts).toEqual([]);
  });

  it('costs an account without alerts one look-up, not one per event', async () => {
    const sql = usageRuntimeOf(svc.runtime).sql;
    const query = sql.query.bind(sql);
    let lookups = 0;
    sql.query = ((text: unknown, ...rest: unknown[]) => {
      if (typeof text === 'string' && text.includes('spend_alert')) lookups++;
      return (query as (...a: unknown[]) => unknown)(text, ...rest);
    }) as typeof sql.query;
    try {
      for (let i = 0; i < 3; i++) expect((await roam(quietLine, '1')).rated).toBe(1);
    } finally {
      sql.query = query;
    }
    expect(lookups).toBe(1);
  });

  it('tells the customer once per alert and period when the bill period spend reaches the alert', async () => {
    const accountAlert = await set({ billingAccountId: account, amount: EUR('50'), idempotencyKey: 'acc-50' });
    expect(accountAlert.errors, JSON.stringify(accountAlert.errors)).toBeUndefined();
    expect(accountAlert.data.setSpendAlert.spendAlert).toMatchObject({ billingAccountId: account, lineId: null, amount: EUR('50.00'), period: '2026-03-01', periodStart: '2026-02-28T23:00:00.000Z', periodEnd: '2026-03-31T22:00:00.000Z', spent: EUR('0.00'), notified: false });
    // The same key and input again: the same answer; the same key with other input: CONFLICT.
    expect((await set({ billingAccountId: account, amount: EUR('50'), idempotencyKey: 'acc-50' })).data.setSpendAlert.spendAlert.id).toBe(accountAlert.data.setSpendAlert.spendAlert.id);
    expect((await set({ billingAccountId: account, amount: EUR('60'), idempotencyKey: 'acc-50' })).errors?.[0]?.extensions?.code).toBe('CONFLICT');
    // Staff set one on line A for the customer.
    expect((await set({ billingAccountId: account, lineId: lineA, amount: EUR('20'), idempotencyKey: 'line-a-20' }, AGENT)).errors).toBeUndefined();

    await roam(lineA, '30'); // 14.70 EUR
    expect(await spendNotices()).toEqual([]);
    await roam(lineA, '20'); // line A 24.50: its alert of 20
    expect((await spendNotices()).map((n) => [n.lineId, n.alertAmount, n.spent])).toEqual([[lineA, '20.00', '24.50']]);
    await roam(lineB, '60', 'b-60'); // account 53.90: the account's alert of 50
    const notices = await spendNotices();
    expect(notices.map((n) => [n.lineId, n.alertAmount, n.spent])).toEqual([[lineA, '20.00', '24.50'], [null, '50.00', '53.90']]);
    expect(notices[1]).toMatchObject({ subject: account, billingAccountId: account, template: 'SPEND_ALERT', currency: 'EUR', period: '2026-03-01', periodStart: '2026-02-28T23:00:00.000Z', periodEnd: '2026-03-31T22:00:00.000Z' });
    expect(typeof notices[1].usageRecordId).toBe('string');

    // More usage, a redelivery, a restarted process: nothing again.
    await roam(lineA, '5');
    const res = await roam(lineB, '60', 'b-60');
    expect(res.duplicates).toBe(1);
    const restarted = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')), env: { USAGE_DB_SCHEMA: svc.schema } });
    try {
      const again = await restarted.request(RECORD_USAGE, { input: { source: `sa-${run}`, records: [{ eventId: 'after-restart', lineId: lineB, usageType: 'DATA', quantity: '1', roamingCountry: 'BR', occurredAt: '2026-03-18T11:00:00Z' }] } });
      expect(again.data?.recordUsage.rated, JSON.stringify(again)).toBe(1);
    } finally {
      await restarted.close();
    }
    expect(await spendNotices()).toHaveLength(2);

    const read = await svc.request(ALERTS, { id: account }, OWNER);
    expect(read.data._entities[0].spendAlerts).toEqual([
      { lineId: null, amount: EUR('50.00'), period: '2026-03-01', spent: { amount: '56.84' }, notified: true },
      { lineId: lineA, amount: EUR('20.00'), period: '2026-03-01', spent: { amount: '26.95' }, notified: true },
    ]);
  });

  it('does not tell again when the ledger lowered the spend and later usage passed the alert again', async () => {
    // Wallets denied every charge so far (the spend drops to 0), then the customer roams past 20 EUR on line A again.
    await settleCharges(db, [lineA, lineB], 'DENIED');
    usageRuntimeOf(svc.runtime).pipeline.invalidateCounters(lineA, account);
    const spent = async () => (await svc.request(ALERTS, { id: account }, OWNER)).data._entities[0].spendAlerts.map((a: { spent: { amount: string } }) => a.spent.amount);
    expect(await spent()).toEqual(['0.00', '0.00']);
    await roam(lineA, '50');
    await roam(lineB, '80');
    // Below both amounts and past them again (line A 24.50, the account 63.70): told already this period.
    expect(await spent()).toEqual(['63.70', '24.50']);
    expect(await spendNotices()).toHaveLength(2);
  });

  it('an alert set when the spend is already past it is told at once; clearing it stops it', async () => {
    // Spend now: 24.50 (A) + 39.20 (B) = 63.70. A lower account alert is told on the spot, with what was spent.
    const lower = await set({ billingAccountId: account, amount: EUR('40'), idempotencyKey: 'acc-40' });
    expect(lower.data?.setSpendAlert.spendAlert, JSON.stringify(lower)).toMatchObject({ amount: EUR('40.00'), spent: EUR('63.70'), notified: true });
    const notices = await spendNotices();
    expect(notices.map((n) => [n.lineId, n.alertAmount, n.spent])).toEqual([[lineA, '20.00', '24.50'], [null, '50.00', '53.90'], [null, '40.00', '63.70']]);
    expect(notices[2].usageRecordId).toBeNull();
    // Back to 50, told already this period: nothing.
    expect((await set({ billingAccountId: account, amount: EUR('50'), idempotencyKey: 'acc-50-again' })).data.setSpendAlert.spendAlert).toMatchObject({ notified: true });
    expect(await spendNotices()).toHaveLength(3);

    // Cleared: gone from the account, and usage past a new amount tells nothing.
    expect((await svc.request(CLEAR, { i: { billingAccountId: account, idempotencyKey: 'clear-1' } }, OWNER)).data.clearSpendAlert.cleared).toBe(true);
    expect((await svc.request(CLEAR, { i: { billingAccountId: account, idempotencyKey: 'clear-1' } }, OWNER)).data.clearSpendAlert.cleared).toBe(true);
    expect((await svc.request(ALERTS, { id: account }, OWNER)).data._entities[0].spendAlerts.map((a: { lineId: string | null }) => a.lineId)).toEqual([lineA]);
    await roam(lineB, '200');
    expect(await spendNotices()).toHaveLength(3);
  });

  it('takes at most 20 alerts per account', async () => {
    for (let i = 0; i < 19; i++) {
      const lineId = `lin_sl${run}${i}`;
      await setLine(svc, { lineId, msisdn: `+49151000098${String(10 + i)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
      const r = await set({ billingAccountId: account, lineId, amount: EUR('10'), idempotencyKey: `many-${i}` });
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    }
    const over = await set({ billingAccountId: account, amount: EUR('10'), idempotencyKey: 'one-too-many' });
    expect([over.errors?.[0]?.extensions?.code, over.errors?.[0]?.extensions?.field]).toEqual(['BAD_USER_INPUT', 'input.billingAccountId']);
  });

  it('an alert set through another instance of the service is used once the cached "no alerts" is read again', async () => {
    const pipeline = usageRuntimeOf(svc.runtime).pipeline;
    await roam(strangersLine, '1'); // this instance now knows the account has no alerts
    const other = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')), env: { USAGE_DB_SCHEMA: svc.schema } });
    try {
      const r = await other.request(SET, { i: { billingAccountId: otherAccount, amount: EUR('10'), idempotencyKey: 'via-other' } }, AGENT);
      expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    } finally {
      await other.close();
    }
    // Within USAGE_SPEND_ALERT_CACHE_MS (60 s by default) this instance rates on what it read.
    await roam(strangersLine, '30');
    expect(await spendNotices(otherAccount)).toEqual([]);
    // Read again (as after 60 s): the spend counted from the records, 0.49 + 14.70 + 0.49 past 10 EUR.
    (pipeline.deps as { spendAlertCacheMs?: number }).spendAlertCacheMs = 0;
    await roam(strangersLine, '1');
    expect((await spendNotices(otherAccount)).map((n) => [n.alertAmount, n.spent])).toEqual([['10.00', '15.68']]);
  });
});
