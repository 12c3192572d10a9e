import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createSubscribersService } from '../src/service';
import type { OrderDispatcher } from '../src/ports/order-dispatcher';
import { SandboxProvisioning } from '../src/ports/provisioning';
import { FileCatalog, startHarness, type Harness } from './support';

/**
 * An order is committed before it is handed to fulfilment. A hand-over that failed (Temporal
 * unreachable; the in-process saga stopped by a network outage while undoing a failed order) was
 * answered INTERNAL_SERVER_ERROR: the caller was told the request failed although the line and its
 * order existed and the service's sweep fulfils (or undoes) them, and the caller's retry without a
 * key was refused MSISDN_DUPLICATE / ORDER_ALREADY_OPEN. The order is answered as it stands.
 */
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { id status failureCode } } }`;
const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;
const number = () => `+49157${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;

async function account(request: TestService['request']): Promise<string> {
  const c = await request<any>(CREATE_CUSTOMER, { i: { name: 'Hanna Handover', kind: 'INDIVIDUAL' } });
  const a = await request<any>(OPEN_ACCOUNT, { i: { customerId: c.data.createCustomer.customer.id, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1 } });
  return a.data.openBillingAccount.billingAccount.id;
}

describe('an order whose hand-over to fulfilment fails after it was committed', () => {
  let down: TestService;
  let h: Harness;
  beforeAll(async () => {
    const dispatcher: OrderDispatcher = {
      async dispatch() {
        throw new Error('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 10.20.0.7:7233');
      },
    };
    down = await startServiceForTest(createSubscribersService({ catalog: new FileCatalog(), provisioning: new SandboxProvisioning(), dispatcher, sweepIntervalMs: 0, wallets: null }), {
      clock: new ManualClock(new Date('2026-11-16T10:00:00Z')),
    });
    h = await startHarness();
  });
  afterAll(async () => {
    await down?.close();
    await h?.close();
  });

  it('Temporal unreachable: answered ACKNOWLEDGED (the sweep hands it over), not an error', async () => {
    const r = await down.request<any>(ADD_LINE, { i: { billingAccountId: await account(down.request), msisdn: number() } });
    expect(r.errors).toBeUndefined();
    expect(r.data.addLine).toMatchObject({ line: { status: 'PENDING' }, order: { status: 'ACKNOWLEDGED' } });
  });

  it('the in-process saga stopped by an outage while undoing a failed activation: answered FAILED, not an error', async () => {
    const msisdn = number();
    h.sandbox.behave('NEW_LINE', msisdn, { mode: 'reject', code: 'PROVISIONING_SIM_UNKNOWN' });
    const compensate = h.sandbox.compensate.bind(h.sandbox);
    h.sandbox.compensate = async () => {
      throw new Error('provisioning system unavailable (sandbox outage)');
    };
    try {
      const r = await h.subscribers.request<any>(ADD_LINE, { i: { billingAccountId: await account(h.subscribers.request), msisdn } });
      expect(r.errors).toBeUndefined();
      expect(r.data.addLine).toMatchObject({ line: { status: 'PENDING' }, order: { status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' } });
    } finally {
      h.sandbox.compensate = compensate;
      h.sandbox.behave('NEW_LINE', msisdn, null);
    }
  });
});
