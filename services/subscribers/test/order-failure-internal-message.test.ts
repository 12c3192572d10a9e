import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ORDER_FIELDS, startHarness, type Harness } from './support';

/**
 * An order's `failureMessage` is read by the customer (GraphQL `ProductOrder.failureMessage`). The in-process saga
 * saved the message of ANY unexpected error there (code PROVISIONING_FAILED): PostgreSQL's text when completing the
 * order failed (relation, constraint and column names), a provisioning driver's when the network was out of reach.
 * Since the house rule of 88253b3, such a failure is told as "internal error (reference <uuid>)" and logged under that
 * reference; a coded refusal (the network's, a DomainError) keeps its message, which is written for the customer.
 */
const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const ORDER = `query($id: ID!) { productOrder(id: $id) { ${ORDER_FIELDS} } }`;
const REFERENCE = /^internal error \(reference ([0-9a-f-]{36})\)$/;

let h: Harness;
let accountId: string;
let seq = 0;
const msisdn = (prefix: string) => `+49157${prefix}${String((Date.now() + ++seq) % 1e6).padStart(6, '0')}`;

/** The error-level log entry carrying `reference` (its fields). */
function loggedWith(logged: ReturnType<typeof vi.spyOn>, reference: string): { err?: Error; orderId?: string } | undefined {
  const entries: { reference?: string; err?: Error; orderId?: string }[] = logged.mock.calls.map((args: unknown[]) => args[0] as { reference?: string; err?: Error; orderId?: string });
  return entries.find((f) => f?.reference === reference);
}

beforeAll(async () => {
  h = await startHarness();
  const c = await h.ok(CREATE_CUSTOMER, { i: { name: 'Ines Internal', kind: 'INDIVIDUAL' } });
  accountId = (await h.ok(OPEN_ACCOUNT, { i: { customerId: c.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1 } })).openBillingAccount.billingAccount.id;
  // Completing a NEW_LINE turns its line ACTIVE: this schema refuses that for the numbers starting +4915799.
  await h.db.query(`alter table line add constraint t_no_live_99 check (status <> 'ACTIVE' or msisdn not like '+4915799%')`);
});
afterAll(async () => {
  await h?.close();
});

describe('an order failed by an internal error tells the customer a reference, not the error', () => {
  it('completing the order fails in PostgreSQL: failureMessage is "internal error (reference …)", the database text only in the log', async () => {
    const logged = vi.spyOn(h.subscribers.runtime.logger, 'error');
    try {
      const placed = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn('99') } })).addLine;
      expect(placed.order).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_FAILED' });
      const read = (await h.ok(ORDER, { id: placed.order.id })).productOrder;
      expect(read.failureMessage).not.toContain('t_no_live_99');
      expect(read.failureMessage).toMatch(REFERENCE);
      const reference = REFERENCE.exec(read.failureMessage)![1]!;
      const entry = loggedWith(logged, reference);
      expect(String(entry?.err?.message)).toContain('t_no_live_99');
      expect(entry?.orderId).toBe(placed.order.id);
    } finally {
      logged.mockRestore();
    }
  });

  it('the provisioning system out of reach (a thrown non-domain error): the driver text only in the log', async () => {
    const number = msisdn('88');
    h.sandbox.behave('NEW_LINE', number, { mode: 'flaky', times: 5 });
    const logged = vi.spyOn(h.subscribers.runtime.logger, 'error');
    try {
      const placed = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number } })).addLine;
      const read = (await h.ok(ORDER, { id: placed.order.id })).productOrder;
      expect(read).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_FAILED' });
      expect(read.failureMessage).not.toContain('sandbox outage');
      expect(read.failureMessage).toMatch(REFERENCE);
      const reference = REFERENCE.exec(read.failureMessage)![1]!;
      expect(String(loggedWith(logged, reference)?.err?.message)).toContain('sandbox outage');
      // The last attempt's failure is the one told, once: not one reference per attempt.
      expect(logged.mock.calls.filter((args) => (args[0] as { orderId?: string })?.orderId === placed.order.id)).toHaveLength(1);
    } finally {
      logged.mockRestore();
      h.sandbox.behave('NEW_LINE', number, null);
    }
  });

  it("the network's coded refusal keeps its message (written for the customer)", async () => {
    const number = msisdn('77');
    h.sandbox.behave('NEW_LINE', number, { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
    try {
      const placed = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number } })).addLine;
      const read = (await h.ok(ORDER, { id: placed.order.id })).productOrder;
      expect(read).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN', failureMessage: `The network refused NEW_LINE for ${number}` });
    } finally {
      h.sandbox.behave('NEW_LINE', number, null);
    }
  });

  it('a provisioning call that times out keeps its own (safe) message', async () => {
    const number = msisdn('66');
    h.sandbox.behave('NEW_LINE', number, { mode: 'hang' });
    try {
      const placed = (await h.ok(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number } })).addLine;
      const read = (await h.ok(ORDER, { id: placed.order.id })).productOrder;
      expect(read).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_TIMEOUT', failureMessage: 'The provisioning system did not answer within 300 ms' });
    } finally {
      h.sandbox.behave('NEW_LINE', number, null);
    }
  });
});
