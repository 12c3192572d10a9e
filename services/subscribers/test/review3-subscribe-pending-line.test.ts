import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startServiceForTest, type ServiceRuntime, type TestService } from '@ledgerline/platform';
import { createSubscribersService } from '../src/service';
import { InlineOrderDispatcher, type OrderDispatcher } from '../src/ports/order-dispatcher';
import { SandboxProvisioning } from '../src/ports/provisioning';
import { FileCatalog } from './support';

/**
 * Review: `subscribe` on a line whose activation is still in flight.
 *
 * With Temporal fulfilment (ORDER_FULFILMENT=temporal) addLine answers with the line PENDING and
 * its NEW_LINE order ACKNOWLEDGED; the workflow activates it later. `subscribe` accepts a PENDING
 * line and creates the subscription as PENDING ("it starts with the line"), but completing the
 * NEW_LINE order only activates the subscription the order itself created (request.subscriptionId,
 * null for a line added without a plan), and the sweep only starts SCHEDULED subscriptions. So the
 * line goes ACTIVE with its plan PENDING for ever: no add-ons, no upsell ("no active plan"),
 * and rating/billing never see an active subscription.
 *
 * The dispatcher below hands orders over and fulfils them later, as the Temporal one does.
 */
class DeferredDispatcher implements OrderDispatcher {
  readonly queued: string[] = [];
  constructor(readonly inner: InlineOrderDispatcher) {}
  async dispatch(orderId: string): Promise<void> {
    this.queued.push(orderId);
  }
  async fulfil(runtime: ServiceRuntime): Promise<void> {
    for (const id of this.queued.splice(0)) await this.inner.dispatch(id, runtime);
  }
}

let svc: TestService;
let dispatcher: DeferredDispatcher;

beforeAll(async () => {
  const sandbox = new SandboxProvisioning();
  const catalog = new FileCatalog();
  dispatcher = new DeferredDispatcher(new InlineOrderDispatcher(sandbox, { attempts: 2, callTimeoutMs: 300, backoffMs: 10 }, { wallets: null, catalog }));
  const def = createSubscribersService({ catalog, provisioning: sandbox, dispatcher, sweepIntervalMs: 0, wallets: null, notifications: false });
  svc = await startServiceForTest(def, { clock: new ManualClock(new Date('2026-11-16T10:00:00Z')) });
});
afterAll(() => svc?.close());

async function ok(q: string, v: Record<string, unknown> = {}) {
  const r = await svc.request(q, v);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

describe('review3: subscribe while the line is still being activated', () => {
  it('the PENDING subscription becomes ACTIVE when the line is activated', async () => {
    const customerId = (await ok(`mutation { createCustomer(input: { name: "Paula Pending", kind: INDIVIDUAL, creditClass: A }) { customer { id } } }`)).createCustomer.customer.id;
    const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })).openBillingAccount.billingAccount.id;
    const placed = (await ok(`mutation($a: ID!) { addLine(input: { billingAccountId: $a, msisdn: "+4915123777901" }) { line { id status } order { id status } } }`, { a: accountId })).addLine;
    expect(placed).toMatchObject({ line: { status: 'PENDING' }, order: { status: 'ACKNOWLEDGED' } });

    const sub = (await ok(`mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { id status } } }`, { i: { lineId: placed.line.id, planCode: 'POSTPAID_20GB' } })).subscribe.subscription;
    expect(sub.status).toBe('PENDING'); // accepted, waiting for the line

    // The order workflow now activates the line.
    await dispatcher.fulfil(svc.runtime);
    const after = (await ok(`query($id: ID!) { line(id: $id) { status subscriptions { id status } } }`, { id: placed.line.id })).line;
    expect(after.status).toBe('ACTIVE');
    // Correct: subscribe accepted the plan for this line; once the line is ACTIVE its plan must be too
    // (otherwise it was a plan nobody can use, and should have been refused as CONFLICT up front).
    expect(after.subscriptions, 'the subscription made while the line was PENDING must be ACTIVE once the line is activated').toEqual([{ id: sub.id, status: 'ACTIVE' }]);
  });
});
