import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent, type EventName, type RechargeRefundFailedData, type RechargeResolvedData } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { messagesOfEvent, sentForEvent } from './messages-support';

/**
 * A card recharge whose card was charged and which wallets could neither credit nor refund (REFUND_FAILED) was never
 * told to the customer, nor how staff then put it right. Wallets' recharge.refundfailed now becomes
 * RECHARGE_REFUND_FAILED ("charged, not credited, the refund did not go through, we are putting it right"), and
 * recharge.resolved REFUNDED_OUTSIDE a REFUND_SENT ("we paid it back"); a CREDITED one sends nothing of its own: the
 * credit's balance.topup is told as TOPUP_CONFIRMED. Staff's note is never told. Published on the real BILLING stream
 * as wallets' outbox relay does; a redelivery sends nothing twice.
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
let prepaid = '';
const RUN = Math.random().toString(36).slice(2, 8);
/** 23:30 UTC on 21 October is 22 October in Europe/Berlin. */
const AT = new Date('2026-10-21T23:30:00.000Z');

let seq = 0;
async function asWallets(name: EventName, subject: string, data: object) {
  const event = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS[name].type, subject, time: AT, key: [name, RUN, String(++seq)], data });
  await js.publish(EVENTS[name].subject, JSON.stringify(event), { msgID: event.id });
  return event;
}
const emailOf = async (eventId: string) => (await sentForEvent(h, eventId)).find((r) => r.channel === 'EMAIL')!;

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
  const c = await h.ok(`mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`, {
    i: { name: 'Rae Charge', kind: 'INDIVIDUAL', email: 'rae@example.com', phone: '+4915199900078', notificationPreferences: { sms: true, email: true } },
  });
  prepaid = (await h.ok(`mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`, { i: { customerId: c.createCustomer.customer.id, paymentMode: 'PREPAID', currency: 'EUR', timezone: 'Europe/Berlin' } })).openBillingAccount.billingAccount.id;
});

afterAll(async () => {
  await nc?.close();
  await h?.close();
});

const failed = (n: string): RechargeRefundFailedData => ({
  rechargeId: `rch_${RUN}_${n}`, billingAccountId: prepaid, walletId: `wal_${RUN}`, amount: { amount: '20.000000', currency: 'EUR' }, method: 'CARD', channel: 'SELF_CARE',
  workflowId: `recharge-rch_${RUN}_${n}`, captureId: 'cap_1', code: 'RECHARGE_REFUND_FAILED', failedAt: AT.toISOString(),
});
const resolved = (n: string, resolution: RechargeResolvedData['resolution']): RechargeResolvedData => ({
  rechargeId: `rch_${RUN}_${n}`, billingAccountId: prepaid, walletId: `wal_${RUN}`, amount: { amount: '20.000000', currency: 'EUR' }, resolution,
  resolvedBy: 'agent-7', resolvedByRole: 'AGENT', resolvedAt: AT.toISOString(), transactionId: resolution === 'CREDITED' ? 'ltx_1' : null,
});

describe('a card recharge neither credited nor refunded, told to the customer', () => {
  it('REFUND_FAILED: charged, not credited, being put right; a redelivery sends nothing more', async () => {
    const e = await asWallets('rechargeRefundFailed', prepaid, failed('a'));
    const rows = await sentForEvent(h, e.id);
    expect(rows.map((r) => r.channel).sort()).toEqual(['EMAIL', 'SMS']);
    for (const r of rows) {
      expect(r).toMatchObject({ template: 'RECHARGE_REFUND_FAILED', subject: 'Your recharge could not be completed' });
      expect(r.content).toBe(
        'Your card recharge of 20.00 EUR on 2026-10-22 was charged to your card but could not be credited to your balance, and the refund to your card did not go through. We are putting it right: we will pay the 20.00 EUR back to you or credit it to your balance, and tell you when we have.',
      );
    }
    await js.publish(EVENTS.rechargeRefundFailed.subject, JSON.stringify(e), { msgID: `${e.id}-redelivered` });
    const later = await asWallets('rechargeRefundFailed', prepaid, failed('b'));
    await sentForEvent(h, later.id);
    expect(await messagesOfEvent(h, e.id)).toHaveLength(2);
  });

  it('resolved REFUNDED_OUTSIDE: the money paid back, never staff\'s note; CREDITED: nothing of its own (its top-up is told)', async () => {
    const credited = await asWallets('rechargeResolved', prepaid, resolved('c', 'CREDITED'));
    const outside = await asWallets('rechargeResolved', prepaid, resolved('d', 'REFUNDED_OUTSIDE'));
    const email = await emailOf(outside.id);
    expect(email).toMatchObject({ template: 'REFUND_SENT', subject: 'Refund on its way' });
    expect(email.content).toBe('We paid back the 20.00 EUR of your card recharge that could not be credited to your balance on 2026-10-22. It can take a few business days to reach you.');
    expect(email.content).not.toContain('4711');
    // Consumed in order on one consumer: the CREDITED one, read before, stored nothing.
    expect(await messagesOfEvent(h, credited.id)).toEqual([]);
  });
});
