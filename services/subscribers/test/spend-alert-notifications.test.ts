import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { messagesOfEvent, sentForEvent } from './messages-support';

/**
 * A spend alert the customer set in usage (setSpendAlert): usage's usageNotificationRequested with template
 * SPEND_ALERT becomes the customer's message through the same consumer, store and sender as a plan's notify rule.
 * It names what was spent and the alert's amount in the currency's minor unit, and the bill period as local days of
 * the account (Europe/Berlin: the period starting 28 Feb 23:00 UTC is 1 to 31 March). Before, such an event got the
 * plain "Notice SPEND_ALERT for 2026-03-01." text. A line's alert names the line's number; a redelivery sends nothing
 * more.
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
let accountId = '';
let lineId = '';
const RUN = Math.random().toString(36).slice(2, 8);
const msisdn = `+4917${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

let seq = 0;
async function spendAlert(data: Record<string, unknown>) {
  const event = createCloudEvent({ source: 'ledgerline/usage', type: EVENTS.usageNotificationRequested.type, subject: accountId, time: new Date('2026-03-18T10:00:00Z'), key: ['spend', RUN, String(++seq)], data });
  await js.publish(EVENTS.usageNotificationRequested.subject, JSON.stringify(event), { msgID: event.id });
  return event;
}

const usageData = (over: Record<string, unknown> = {}) => ({
  lineId: null,
  msisdn: null,
  billingAccountId: accountId,
  period: '2026-03-01',
  periodStart: '2026-02-28T23:00:00.000Z',
  periodEnd: '2026-03-31T22:00:00.000Z',
  template: 'SPEND_ALERT',
  channel: null,
  threshold: null,
  allowanceId: null,
  rule: 'spendAlert',
  spendAlertId: 'spa_1',
  alertAmount: '50.00',
  spent: '53.90',
  currency: 'EUR',
  usageRecordId: 'usg_1',
  ...over,
});

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, {
    i: { name: 'Sam Spender', kind: 'INDIVIDUAL', email: 'sam@example.com', notificationPreferences: { sms: true, email: true } },
  });
  const customerId = c.createCustomer.customer.id;
  accountId = (await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'POSTPAID', currency: 'EUR', timezone: 'Europe/Berlin' } })).openBillingAccount.billingAccount.id;
  lineId = (await h.ok(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: accountId, msisdn, planCode: 'POSTPAID_20GB' } })).addLine.line.id;
});

afterAll(async () => {
  await nc?.close();
  await h?.close();
});

describe('spend alert messages', () => {
  it("the account's alert: what was spent, the alert's amount and the bill period, on every channel the customer allows", async () => {
    const event = await spendAlert(usageData());
    const rows = await sentForEvent(h, event.id);
    expect(rows.map((r) => r.channel)).toEqual(['EMAIL', 'SMS']);
    for (const r of rows) {
      expect(r).toMatchObject({ template: 'SPEND_ALERT', subject: 'Your usage charges reached 50.00 EUR' });
      expect(r.content).toBe(
        "Your usage charges for the bill period from 2026-03-01 to 2026-03-31 are 53.90 EUR so far, reaching the 50.00 EUR alert you set. They are charged on top of your plan's fee: calls, messages and data beyond your allowances, roaming and premium content. You can change or clear the alert in the app.",
      );
    }
    await js.publish(EVENTS.usageNotificationRequested.subject, JSON.stringify(event), { msgID: `${event.id}-again` });
    const later = await spendAlert(usageData({ spendAlertId: 'spa_2' }));
    await sentForEvent(h, later.id);
    expect(await messagesOfEvent(h, event.id)).toHaveLength(2);
  });

  it("a line's alert names the line; amounts in the currency's minor unit", async () => {
    const event = await spendAlert(usageData({ lineId, msisdn, alertAmount: '20', spent: '24.5' }));
    const sms = (await sentForEvent(h, event.id)).find((r) => r.channel === 'SMS')!;
    expect(sms.receiver).toBe(msisdn);
    expect(sms.subject).toBe('Your usage charges reached 20.00 EUR');
    expect(sms.content).toMatch(new RegExp(`^Your usage charges on ${msisdn.replace('+', '\\+')} for the bill period from 2026-03-01 to 2026-03-31 are 24.50 EUR so far, reaching the 20.00 EUR alert you set\\.`));
  });
});
