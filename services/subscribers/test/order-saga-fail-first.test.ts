import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '@ledgerline/contracts';
import { dropSchema, ManualClock, openDatabase, TEST_DATABASE_URL, type Em, type Orm } from '@ledgerline/platform';
import { completeOrder } from '../src/application/fulfil-order';
import { runOrderSaga } from '../src/application/order-saga';
import { BillingAccount, Customer, entities, Line, ProductOrder } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import type { ProvisioningAdapter, ProvisioningRequest } from '../src/ports/provisioning';

/**
 * The in-process order saga takes the Temporal workflow's order of steps on a failure (patch
 * `order-fail-before-compensating`): fail the order first, then undo the network. An order that
 * turns out COMPLETED (its completion landed although this saga saw an error) refuses to fail,
 * and then the network is not undone: the line is live in billing.
 */
const now = new Date('2026-11-16T10:00:00Z');
const schema = `t_saga_${Date.now().toString(36)}_subscribers`;
let orm: Orm;
let n = 0;

beforeAll(async () => {
  orm = await openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations });
  const em = orm.em.fork();
  em.create(Customer, { id: 'cus_1', name: 'Saga Sam', kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '[]', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: now });
  await em.flush();
  em.create(BillingAccount, { id: 'acc_1', customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: now });
  await em.flush();
});
afterAll(async () => {
  await orm?.close();
  await dropSchema(schema);
});

let orderId: string;
let lineId: string;
beforeEach(async () => {
  n += 1;
  lineId = `lin_${n}`;
  orderId = `ord_${n}`;
  const em = orm.em.fork();
  em.create(Line, { id: lineId, billingAccountId: 'acc_1', msisdn: `+49151000000${n}`, iccid: null, imsi: null, status: 'PENDING', planCode: null, createdAt: now, updatedAt: now });
  await em.flush();
  em.create(ProductOrder, { id: orderId, kind: 'NEW_LINE', status: 'ACKNOWLEDGED', billingAccountId: 'acc_1', lineId, request: JSON.stringify({ subscriptionId: null, activationFee: null }), idempotencyKey: null, requestHash: null, failureCode: null, failureMessage: null, createdAt: now, updatedAt: now, completedAt: null });
  await em.flush();
});

const statusOf = async (table: 'order' | 'line', id: string) => {
  const em = orm.em.fork();
  return (table === 'order' ? await em.findOneOrFail(ProductOrder, { id }) : await em.findOneOrFail(Line, { id })).status;
};

/** A network that records its calls, and the order's status as compensation starts. */
class Network implements ProvisioningAdapter {
  readonly calls: string[] = [];
  orderStatusAtCompensation: string | null = null;
  constructor(private readonly onExecute: (req: ProvisioningRequest) => Promise<void> = async () => {}) {}
  async execute(req: ProvisioningRequest) {
    this.calls.push('execute');
    await this.onExecute(req);
    return { networkRef: `hlr-${req.msisdn}` };
  }
  async compensate(req: ProvisioningRequest) {
    this.calls.push('compensate');
    this.orderStatusAtCompensation = await statusOf('order', req.orderId);
  }
}

const refuse = async () => {
  throw new DomainError('PROVISIONING_SIM_UNKNOWN', 'SIM unknown to the HLR', { retryable: false });
};
const saga = (provisioning: ProvisioningAdapter, onCommit?: () => void) => runOrderSaga({ orm, clock: new ManualClock(now), provisioning, onCommit }, orderId, { attempts: 1, callTimeoutMs: 1000, backoffMs: 1 });

describe('in-process order saga: fail the order, then compensate', () => {
  it('a refused provisioning: the order is already FAILED when the network is undone', async () => {
    const network = new Network(refuse);
    const result = await saga(network);
    expect(result).toMatchObject({ status: 'FAILED', failureCode: 'PROVISIONING_SIM_UNKNOWN' });
    expect(network.calls).toEqual(['execute', 'compensate']);
    expect(network.orderStatusAtCompensation).toBe('FAILED');
  });

  it('an order completed meanwhile (another runner) is not compensated: it stays COMPLETED, the line ACTIVE', async () => {
    // Completed by a concurrent runner of the same order while this saga's provisioning call failed.
    const network = new Network(async (req) => {
      await orm.em.fork().transactional((em) => completeOrder(em as Em, req.orderId, now));
      await refuse();
    });
    const result = await saga(network);
    expect(result.status).toBe('COMPLETED');
    expect(network.calls).toEqual(['execute']);
    expect(await statusOf('order', orderId)).toBe('COMPLETED');
    expect(await statusOf('line', lineId)).toBe('ACTIVE');
  });

  it('a completion that committed but whose answer was lost is not compensated', async () => {
    const network = new Network();
    let commits = 0;
    // Commit 1 is the start, commit 2 the completion: it lands, then the saga sees an error.
    const result = await saga(network, () => {
      if (++commits === 2) throw new Error('connection lost after COMMIT');
    });
    expect(result.status).toBe('COMPLETED');
    expect(network.calls).toEqual(['execute']);
    expect(await statusOf('line', lineId)).toBe('ACTIVE');
  });
});
