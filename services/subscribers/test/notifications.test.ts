import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { webhookSignature } from '../src/ports/notification-sender';

/**
 * Customer notifications from other services' events, over the real BILLING stream: a plan's
 * notify rule (from usage) and a low balance (from wallets) become messages on the customer's
 * channels; a signed webhook is delivered, retried on failure, and nothing is sent twice.
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
const hooks: { body: string; signature: string; id: string }[] = [];
let hookStatus = 200;
let hookServer: http.Server;
const RUN = Math.random().toString(36).slice(2, 8);

async function gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await h.subscribers.request<T>(query, variables);
  if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
  return r.data!;
}

async function eventually<T>(probe: () => Promise<T | null | undefined | false>, what: string, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const NOTIFICATIONS = `query($id: ID!) { line(id: $id) { notifications { channel receiver template subject content state attempts lastError sourceEventType } } }`;

async function publish(name: 'usageNotificationRequested' | 'balanceLow' | 'chargeDue', key: string[], data: Record<string, unknown>, msgId?: string) {
  const event = createCloudEvent({ source: `/ledgerline/test`, type: EVENTS[name].type, time: h.clock.now(), key: [RUN, ...key], data });
  await js.publish(EVENTS[name].subject, JSON.stringify(event), { msgID: msgId ?? event.id });
  return event;
}

let lineId = '';
let accountId = '';
const msisdn = `+4917${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

beforeAll(async () => {
  hookServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push({ body, signature: String(req.headers['x-ledgerline-signature']), id: String(req.headers['x-ledgerline-message-id']) });
      res.statusCode = hookStatus;
      res.end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
  const c = await gql(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, { i: { name: 'Ana Notified', kind: 'INDIVIDUAL', email: 'ana@example.com', notificationPreferences: { sms: true, email: false } } });
  const customerId = c.createCustomer.customer.id;
  // Webhook URLs must be https at the API; the test's receiver is plain http on loopback, so it is written directly.
  await h.db.query(`update customer set notification_preferences = $1 where id = $2`, [JSON.stringify({ sms: true, email: false, push: false, webhookUrl: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook` }), customerId]);
  const a = await gql(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId, paymentMode: 'PREPAID', currency: 'EUR' } });
  accountId = a.openBillingAccount.billingAccount.id;
  const l = await gql(`mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }`, { i: { billingAccountId: accountId, msisdn, planCode: 'PREPAID_PAYG' } });
  lineId = l.addLine.line.id;
});

afterAll(async () => {
  await nc?.close();
  await h?.close();
  hookServer?.close();
});

describe('customer notifications', () => {
  it("a plan's 80 % notify rule becomes one SMS to the line and one signed webhook, even when the event comes twice", async () => {
    // Not the only notice this line gets: any wallets service reading the shared stream (another test run's) opens a
    // wallet for this account and tells it PREPAID_PAYG's starter pack (9.95) is due on an empty balance. Sent here too,
    // so every run has it: its messages are the line's, and no second delivery of the 80 % notice.
    await publish('chargeDue', ['starter'], { chargeId: `chg_${RUN}`, billingAccountId: accountId, lineId, reason: 'ACTIVATION_FEE', description: 'Starter pack', amount: { amount: '9.95', currency: 'EUR' }, balance: { amount: '0', currency: 'EUR' } });
    const data = { lineId, msisdn, billingAccountId: accountId, period: '2026-11-15', periodStart: '2026-11-15T09:30:00.000Z', periodEnd: '2026-12-15T09:30:00.000Z', template: 'DATA_80_PERCENT', channel: 'SMS', threshold: '0.8', allowanceId: 'data', rule: 'notify-data-80' };
    const event = await publish('usageNotificationRequested', ['80'], data);
    await publish('usageNotificationRequested', ['80'], data, `${event.id}-again`); // past NATS dedupe: the same CloudEvent redelivered

    const sent = await eventually(async () => {
      const n = (await gql(NOTIFICATIONS, { id: lineId })).line.notifications.filter((m: { template: string }) => m.template === 'DATA_80_PERCENT');
      return n.length === 2 && n.every((m: { state: string }) => m.state === 'SENT') ? n : null;
    }, 'both messages sent');
    expect(sent.map((m: { channel: string }) => m.channel).sort()).toEqual(['SMS', 'WEBHOOK']);
    expect(sent.find((m: { channel: string }) => m.channel === 'SMS')).toMatchObject({ receiver: msisdn, template: 'DATA_80_PERCENT', content: 'You have used 80% of your data allowance for the period from 2026-11-15. It renews on 2026-12-15.', attempts: 1, sourceEventType: EVENTS.usageNotificationRequested.type });
    await eventually(async () => hooks.some((x) => JSON.parse(x.body).type === 'CHARGE_DUE'), "the starter pack's webhook");
    await new Promise((r) => setTimeout(r, 1500)); // a second delivery, if there were one, would have happened by now
    const notices = hooks.filter((x) => JSON.parse(x.body).type === 'DATA_80_PERCENT');
    expect(notices).toHaveLength(1);
    expect(notices[0]!.signature).toBe(webhookSignature('ledgerline-dev-webhook-secret', notices[0]!.body));
    expect(JSON.parse(notices[0]!.body)).toMatchObject({ type: 'DATA_80_PERCENT', lineId, billingAccountId: accountId });
  });

  it('a failing webhook is retried with back-off and then delivered; an unreadable event does not stop the consumer', async () => {
    hookStatus = 500;
    hooks.length = 0;
    await js.publish(EVENTS.balanceLow.subject, '{"not": "a cloud event"}');
    await publish('balanceLow', ['low'], { walletId: 'wal_x', billingAccountId: accountId, balance: { amount: '1.2', currency: 'EUR' }, threshold: { amount: '2', currency: 'EUR' } });
    const customerMessages = async () => (await gql(`query($id: ID!) { billingAccount(id: $id) { customer { notifications { id channel template state attempts lastError content } } } }`, { id: accountId })).billingAccount.customer.notifications.filter((m: { template: string }) => m.template === 'LOW_BALANCE');
    const failed = await eventually(async () => (await customerMessages()).find((m: { channel: string; attempts: number }) => m.channel === 'WEBHOOK' && m.attempts >= 1), 'a failed webhook attempt');
    expect(failed).toMatchObject({ state: 'PENDING', lastError: 'webhook answered HTTP 500' });
    expect((await customerMessages()).find((m: { channel: string }) => m.channel === 'SMS')).toMatchObject({ state: 'SENT', content: 'Your balance is 1.20 EUR, below 2.00 EUR. Top up to keep using the service.' });

    hookStatus = 200;
    h.clock.advance(6_000); // past the first back-off (5 s)
    const delivered = await eventually(async () => (await customerMessages()).find((m: { channel: string; state: string }) => m.channel === 'WEBHOOK' && m.state === 'SENT'), 'the retried webhook');
    expect(delivered.attempts).toBe(2);
    const lowBalance = hooks.filter((x) => JSON.parse(x.body).type === 'LOW_BALANCE');
    expect(lowBalance).toHaveLength(2); // one refused, one accepted: at least once, same message id
    expect(lowBalance.map((x) => x.id)).toEqual([delivered.id, delivered.id]);
  });
});
