import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { EVENTS, parseCloudEvent } from '@ledgerline/contracts';
import { NATS_URL, ok, startTestSystem, type System, freshMsisdn } from './harness';
const msisdn0 = freshMsisdn();
const msisdn1 = freshMsisdn();
// A line without a subscription has no allowance periods: its live usage is the calendar month's.
const PERIOD = `${new Date().toISOString().slice(0, 7)}-01`;

/**
 * The walking skeleton, for real: every process started as `npm start` starts it, talking to real
 * PostgreSQL, NATS and Temporal.
 */
describe('walking skeleton through the gateway', () => {
  let system: System;
  let nc: NatsConnection;

  beforeAll(async () => {
    system = await startTestSystem();
    nc = await connect({ servers: NATS_URL });
  });

  afterAll(async () => {
    await nc?.drain();
    await system?.stop();
  });

  async function createAccountWithLine(msisdn: string) {
    const { createCustomer } = ok(await system.graphql('mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }', { i: { name: 'Ada Lovelace', kind: 'INDIVIDUAL' } }));
    const { openBillingAccount } = ok(
      await system.graphql('mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', {
        i: { customerId: createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 15 },
      }),
    );
    const { addLine } = ok(await system.graphql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: openBillingAccount.billingAccount.id, msisdn } }));
    return { customerId: createCustomer.customer.id as string, accountId: openBillingAccount.billingAccount.id as string, lineId: addLine.line.id as string };
  }

  it('answers one query with fields from several subgraphs', async () => {
    const { accountId } = await createAccountWithLine(msisdn0);
    const data = ok(
      await system.graphql('query($id: ID!) { billingAccount(id: $id) { id currency billCycleDay wallets { id } invoices { id } lines { msisdn status usage { period totals { usageType } } } } }', {
        id: accountId,
      }),
    );
    expect(data.billingAccount).toEqual({
      id: accountId,
      currency: 'EUR',
      billCycleDay: 15,
      wallets: expect.any(Array), // resolved by the wallets subgraph
      invoices: [], // resolved by the invoicing subgraph
      lines: [{ msisdn: msisdn0, status: 'ACTIVE', usage: { period: PERIOD, totals: [] } }], // usage contributes to Line
    });
  });

  it('delivers an event written through the outbox to a JetStream consumer', async () => {
    const jsm = await jetstreamManager(nc);
    const name = `e2e_${system.schemaPrefix}customer`;
    await jsm.consumers.add('BILLING', { durable_name: name, filter_subject: EVENTS.customerCreated.subject, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New });
    try {
      const { customerId } = await createAccountWithLine(msisdn1);
      const consumer = await jetstream(nc).consumers.get('BILLING', name);
      const seen: string[] = [];
      const deadline = Date.now() + 15_000;
      while (!seen.includes(customerId) && Date.now() < deadline) {
        const batch = await consumer.fetch({ max_messages: 50, expires: 1000 });
        for await (const msg of batch) {
          const event = parseCloudEvent(msg.data);
          expect(event.type).toBe('CustomerCreateEvent');
          expect(msg.headers?.get('Nats-Msg-Id')).toBe(event.id);
          seen.push((event.data as { customerId: string }).customerId);
          msg.ack();
        }
      }
      expect(seen).toContain(customerId);
    } finally {
      await jsm.consumers.delete('BILLING', name);
    }
  });

  it('refuses a bad token and bad input with clear codes', async () => {
    const response = await fetch(system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer nope' }, body: '{"query":"{ __typename }"}' });
    expect(response.status).toBe(401);
    expect(((await response.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');

    const bad = await system.graphql('mutation($i: AddLineInput!) { addLine(input: $i) { line { id } } }', { i: { billingAccountId: 'acc_missing', msisdn: '12345' } });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'MSISDN_INVALID', field: 'input.msisdn' });

    const decimal = await system.graphql('mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }', {
      i: { customerId: 'cus_x', paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: 12.5 },
    });
    expect(decimal.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(decimal.errors?.[0]?.message).toMatch(/creditLimit/);
  });
});
