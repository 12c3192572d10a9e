import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { recordNotifications } from '../src/application/notifications';
import { startHarness, type Harness } from './support';
import { gqlOn } from './plan-fees-support';

/**
 * A customer's notification webhook URL had no length check: `createCustomer` stored any https URL
 * (notification_preferences is text), but every message to it is a communication_message row whose
 * receiver is varchar(400). A URL over 400 characters was taken, and then each message for the
 * customer failed to be stored (PostgreSQL refused the row): the notifying consumers' batches failed
 * and were redelivered without end (every customer's messages in them held back), and use cases that
 * tell the customer in their own transaction (endAddOn, an upsell offer presented, a FAILED accepted
 * offer's failOrder) answered INTERNAL_SERVER_ERROR. Refused now where it is given: BAD_USER_INPUT
 * naming the field, nothing written.
 */
let h: Harness;
const CREATE = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id notificationPreferences { webhookUrl } } } }`;
const url = (length: number) => {
  const base = 'https://hooks.example.org/ledgerline/';
  return base + 'a'.repeat(length - base.length);
};

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("a customer's webhook URL is at most as long as a message's receiver", () => {
  it('over 400 characters is refused BAD_USER_INPUT naming the field, nothing written', async () => {
    const before = await h.counts();
    const r = await h.subscribers.request(CREATE, { i: { name: 'Wes Webhook', kind: 'BUSINESS', notificationPreferences: { sms: false, webhookUrl: url(401) } } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.notificationPreferences.webhookUrl', reason: 'WEBHOOK_URL_TOO_LONG' });
    expect(r.errors![0]!.message).toMatch(/400 characters/);
    expect(await h.counts()).toEqual(before);
  });

  it('of 400 characters is taken, and a message to it is stored', async () => {
    const webhookUrl = url(400);
    const customer = (await gqlOn(h, CREATE, { i: { name: 'Wanda Webhook', kind: 'BUSINESS', notificationPreferences: { sms: false, webhookUrl } } })).createCustomer.customer;
    expect(customer.notificationPreferences.webhookUrl).toBe(webhookUrl);
    const accountId = (await gqlOn(h, `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: customer.id, paymentMode: 'PREPAID', currency: 'EUR' } })).openBillingAccount.billingAccount.id;
    const trigger = { eventType: 'test', eventId: `evt_${customer.id}`, billingAccountId: accountId, lineId: null, template: 'LOW_BALANCE', preferredChannel: null, params: { balance: '1.00 EUR', threshold: '2.00 EUR' } };
    await h.subscribers.runtime.orm.em.fork().transactional((em) => recordNotifications(em as Em, [trigger], h.clock.now()));
    expect(await h.rows(`select channel, receiver from communication_message where source_event_id = $1`, [trigger.eventId])).toEqual([{ channel: 'WEBHOOK', receiver: webhookUrl }]);
  });
});
