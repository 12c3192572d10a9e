import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import { TEST_NATS_URL } from '@ledgerline/platform';
import { startHarness, type Harness } from './support';
import { gqlOn } from './plan-fees-support';
import { sentForEvent } from './messages-support';

/**
 * A message about a line that has since been TERMINATED (wallets' CHARGE_DUE for its termination fee
 * on an empty prepaid balance, a late usage notice) was sent by SMS to the line's number. The number
 * is out of the customer's hands once the line is terminated, and MSISDNs are recycled at once (unique
 * among lines not terminated): the next holder of the number, another customer, read the first
 * customer's debt. Such a message goes where an account-level one goes: the customer's phone, else
 * the account's first live line, else no SMS.
 */
let h: Harness;
let nc: NatsConnection;
let js: JetStreamClient;
const RUN = Math.random().toString(36).slice(2, 8);
const number = (n: number) => `+4917${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}${n}${n}`;

const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { status } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status } } }`;

async function prepaidCustomer(name: string, phone: string | null): Promise<string> {
  const customerId = (await gqlOn(h, CREATE_CUSTOMER, { i: { name, kind: 'INDIVIDUAL', ...(phone ? { phone } : {}), notificationPreferences: { sms: true, email: false } } })).createCustomer.customer.id;
  return (await gqlOn(h, OPEN_ACCOUNT, { i: { customerId, paymentMode: 'PREPAID', currency: 'EUR' } })).openBillingAccount.billingAccount.id;
}

async function addLine(billingAccountId: string, msisdn: string, planCode: string | null = 'PREPAID_PAYG'): Promise<string> {
  const r = (await gqlOn(h, ADD_LINE, { i: { billingAccountId, msisdn, planCode } })).addLine;
  expect(r.order.status).toBe('COMPLETED');
  return r.line.id;
}

/** Wallets' chargeDue for the line's termination fee, as wallets publishes it when the balance cannot pay it. */
async function terminationFeeDue(billingAccountId: string, lineId: string, tag: string): Promise<string> {
  const data = { chargeId: `chg_${RUN}_${tag}`, billingAccountId, lineId, reason: 'TERMINATION_FEE', description: 'Number closure', amount: { amount: '4.00', currency: 'EUR' }, balance: { amount: '0', currency: 'EUR' } };
  const event = createCloudEvent({ source: '/ledgerline/test', type: EVENTS.chargeDue.type, time: h.clock.now(), key: [RUN, tag], data });
  await js.publish(EVENTS.chargeDue.subject, JSON.stringify(event), { msgID: event.id });
  return event.id;
}

beforeAll(async () => {
  h = await startHarness();
  nc = await connect({ servers: TEST_NATS_URL });
  js = jetstream(nc);
});
afterAll(async () => {
  await nc?.close();
  await h?.close();
});

describe("a message about a terminated line is not sent to the line's number", () => {
  it("goes to the customer's phone, not to the recycled number's new holder", async () => {
    const phone = number(1);
    const leaving = await prepaidCustomer('Lea Leaving', phone);
    const recycled = number(2);
    const lineId = await addLine(leaving, recycled);
    expect((await gqlOn(h, TERMINATE, { i: { lineId } })).terminateLine.line.status).toBe('TERMINATED');
    // The number goes to another customer once its quarantine (90 days) is over; the message comes late.
    h.clock.advance(90 * 86_400_000);
    await addLine(await prepaidCustomer('Nico Newholder', null), recycled);

    const sent = await sentForEvent(h, await terminationFeeDue(leaving, lineId, 'phone'));
    expect(sent.map((m) => [m.channel, m.receiver])).toEqual([['SMS', phone]]);
    expect(sent[0]!.content).toContain('Number closure');
    // Still the terminated line's message (its notifications list it).
    expect((await h.rows(`select line_id from communication_message where receiver = $1`, [phone]))[0]).toEqual({ line_id: lineId });
  });

  it("goes to the account's line still live when the customer has no phone, and nowhere by SMS when none is", async () => {
    const account = await prepaidCustomer('Kai Keeping', null);
    const kept = number(3);
    await addLine(account, kept, null); // PREPAID_PAYG takes one line per account
    const ending = number(4);
    const endedLine = await addLine(account, ending);
    await gqlOn(h, TERMINATE, { i: { lineId: endedLine } });

    const sent = await sentForEvent(h, await terminationFeeDue(account, endedLine, 'other-line'));
    expect(sent.map((m) => [m.channel, m.receiver])).toEqual([['SMS', kept]]);

    const alone = await prepaidCustomer('Ola Only', null);
    const onlyLine = await addLine(alone, number(5));
    await gqlOn(h, TERMINATE, { i: { lineId: onlyLine } });
    const eventId = await terminationFeeDue(alone, onlyLine, 'none');
    // The other consumers of the stream have had time to store it, had there been a receiver.
    await sentForEvent(h, await terminationFeeDue(account, endedLine, 'after-none'));
    expect(await h.rows(`select receiver from communication_message where source_event_id = $1`, [eventId])).toEqual([]);
  });
});
