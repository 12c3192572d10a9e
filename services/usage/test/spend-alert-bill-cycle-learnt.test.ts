/**
 * The bill cycle of an account whose billingaccount.created the `owners` consumer read before spend alerts kept it.
 *
 * Spend alerts count an account's usage in its bill period: subscribers' bill-cycle day in the account's time zone,
 * which the `owners` consumer takes from billingaccount.created since Migration20270131000000_spend_alerts. Every
 * account opened before that upgrade had its created event read (and acked) by `owners` already: its account_owner row
 * has no terms, and nothing read them again - its alerts counted calendar months in UTC for good, another period than
 * its bills (here: bills from the 15th, Berlin). Now usage reads the stream's billingaccount.created once more, from the
 * start, on a durable of its own, and fills in the terms an account_owner row lacks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { BILLING_STREAM, createCloudEvent, EVENTS, type Caller } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, waitFor } from './support';

let svc: TestService;
let upgraded: TestService | undefined;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_sc${run}`;
const owner = `cus_sc${run}`;
const line = `lin_sc${run}`;
const OWNER: Caller = { role: 'CUSTOMER', subject: 'the-owner', customerId: owner, scopes: [] };
const clock = () => new ManualClock(new Date('2026-03-20T12:00:00Z'));

const SET = `mutation($i: SetSpendAlertInput!) { setSpendAlert(input: $i) { spendAlert { id } } }`;
const ALERTS = `query($id: ID!) { _entities(representations: [{ __typename: "BillingAccount", id: $id }]) { ... on BillingAccount { spendAlerts { period periodStart spent { amount } } } } }`;

beforeAll(async () => {
  // The schema, and the usage the account had before the upgrade; no consumers here.
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: clock() });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: line, msisdn: '+4915100009891', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  const event = createCloudEvent({
    source: 'ledgerline/subscribers',
    type: EVENTS.billingAccountCreated.type,
    subject: account,
    time: new Date('2026-01-01T00:00:00Z'),
    data: { billingAccountId: account, customerId: owner, parentAccountId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 15, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false, partnerId: null, partnerVersion: 0 },
    key: [account],
  });
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(event), { msgID: event.id });
  // Before the upgrade `owners` read the event (its durable is past it) and stored the owner without terms (no columns for them).
  await svc.runtime.messaging.jsm.consumers.add(BILLING_STREAM.name, {
    durable_name: `usage-${svc.schema}-owners`, filter_subject: 'billing.subscribers.billingaccount.>', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, inactive_threshold: 600_000_000_000,
  });
  await db.query(`insert into account_owner (billing_account_id, customer_id, updated_at) values ($1, $2, '2026-01-01T00:00:00Z')`, [account, owner]);
});

afterAll(async () => {
  await upgraded?.close();
  await db?.end();
  await svc?.close();
});

describe('an account usage knew before spend alerts kept bill cycles', () => {
  it('has its bill cycle read from billingaccount.created once more, and its alerts count its bill period', async () => {
    // The upgraded service, with its consumers: `owners` (the same durable) does not read the event again.
    const usage = (upgraded = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['owners'], deliverNew: true }), { clock: clock(), env: { USAGE_DB_SCHEMA: svc.schema } }));
    const roam = async (eventId: string, mb: string, occurredAt: string) => {
      const res = await usage.request(RECORD_USAGE, { input: { source: `sc-${run}`, records: [{ eventId, lineId: line, usageType: 'DATA', quantity: mb, roamingCountry: 'BR', occurredAt }] } });
      expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
    };
    await roam('before-15th', '20', '2026-03-10T10:00:00Z'); // 9.80, in the bill period that ended on the 15th
    await roam('after-15th', '10', '2026-03-16T10:00:00Z'); // 4.90, in the bill period running now
    await waitFor(async () => (await db.query('select 1 from account_owner where billing_account_id = $1 and bill_cycle_day is not null', [account])).rowCount === 1, 15_000, 'the bill cycle read from billingaccount.created again');
    expect((await db.query('select currency, bill_cycle_day, timezone from account_owner where billing_account_id = $1', [account])).rows[0]).toEqual({ currency: 'EUR', bill_cycle_day: 15, timezone: 'Europe/Berlin' });
    expect((await usage.request(SET, { i: { billingAccountId: account, amount: { amount: '50', currency: 'EUR' }, idempotencyKey: 'acc-50' } }, OWNER)).errors).toBeUndefined();
    // The bill period from 15 March (Berlin), as the account's bills: 4.90 spent, not the calendar month's 14.70.
    expect((await usage.request(ALERTS, { id: account }, OWNER)).data._entities[0].spendAlerts).toEqual([{ period: '2026-03-15', periodStart: '2026-03-14T23:00:00.000Z', spent: { amount: '4.90' } }]);
  });
});
