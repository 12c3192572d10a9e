import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EVENTS } from '@ledgerline/contracts';
import { dropSchema, ManualClock, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { runOrderSaga, type SagaDeps } from '../src/application/order-saga';
import { recoverOrders } from '../src/application/recover-orders';
import { BillingAccount, Customer, entities, Line, ProductOrder } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import { SandboxProvisioning, type ProvisioningAdapter, type ProvisioningCallOptions, type ProvisioningRequest } from '../src/ports/provisioning';

/**
 * The in-process order saga survives its process: a run that dies between any two steps leaves
 * the order to the recovery sweep, which (once the run's lease has expired) resumes it and ends it
 * COMPLETED or FAILED exactly once, with the line, the network and the charges agreeing. A "process"
 * here is an AbortSignal: killing it stops every step and lease renewal of its runs, and a port
 * call in flight at that moment never returns (as with SIGKILL).
 */
const start = new Date('2026-11-16T10:00:00Z');
const LEASE_MS = 600;
const options = { attempts: 1, callTimeoutMs: 2000, backoffMs: 1, leaseMs: LEASE_MS };
const schema = `t_sagacrash_${Date.now().toString(36)}_subscribers`;
let orm: Orm;
let clock: ManualClock;
let network: SandboxProvisioning;
let n = 0;

beforeAll(async () => {
  orm = await openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations });
  const em = orm.em.fork();
  em.create(Customer, { id: 'cus_1', name: 'Crash Carla', kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '[]', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: start });
  await em.flush();
  em.create(BillingAccount, { id: 'acc_1', customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: start });
  await em.flush();
});
afterAll(async () => {
  await orm?.close();
  await dropSchema(schema);
});

let orderId: string;
let lineId: string;
let msisdn: string;
beforeEach(async () => {
  n += 1;
  clock = new ManualClock(start);
  network = new SandboxProvisioning();
  lineId = `lin_${n}`;
  orderId = `ord_${n}`;
  msisdn = `+4915200000${String(n).padStart(2, '0')}`;
  const em = orm.em.fork();
  em.create(Line, { id: lineId, billingAccountId: 'acc_1', msisdn, iccid: null, imsi: null, status: 'PENDING', planCode: null, createdAt: start, updatedAt: start });
  await em.flush();
  // A NEW_LINE with a 9.99 ACTIVATION fee: a one_off_charge and a oneOffChargeCreated when it completes.
  const fees = [{ code: 'SIM_KIT', name: 'Starter pack', trigger: 'ACTIVATION', amount: { amount: '9.9900', currency: 'EUR' } }];
  em.create(ProductOrder, { id: orderId, kind: 'NEW_LINE', status: 'ACKNOWLEDGED', billingAccountId: 'acc_1', lineId, request: JSON.stringify({ subscriptionId: null, fees }), idempotencyKey: null, requestHash: null, failureCode: null, failureMessage: null, createdAt: start, updatedAt: start, completedAt: null });
  await em.flush();
});

const never = () => new Promise<never>(() => {});

/** One process: its sagas stop (and their calls in flight never return) once it is killed. */
function processWith(opts: { crashAt?: CrashPoint; crashAfterCommit?: number } = {}) {
  const life = new AbortController();
  let commits = 0;
  const port = new CrashingPort(network, opts.crashAt ?? null, () => life.abort());
  const deps: SagaDeps = {
    orm,
    clock,
    provisioning: port,
    signal: life.signal,
    onCommit: () => {
      if (++commits === opts.crashAfterCommit) life.abort();
    },
  };
  return { deps, port, kill: () => life.abort(), killed: () => life.signal.aborted };
}

type CrashPoint = 'execute-before' | 'execute-after' | 'compensate-before' | 'compensate-after';

/** The sandbox network; at `crashAt` the process dies inside the call (before or after the network acted). */
class CrashingPort implements ProvisioningAdapter {
  executes = 0;
  compensations = 0;
  constructor(
    private readonly inner: SandboxProvisioning,
    private readonly crashAt: CrashPoint | null,
    private readonly die: () => void,
  ) {}
  async execute(req: ProvisioningRequest, o?: ProvisioningCallOptions) {
    this.executes += 1;
    if (this.crashAt === 'execute-before') return this.crash();
    const r = await this.inner.execute(req, o);
    if (this.crashAt === 'execute-after') return this.crash();
    return r;
  }
  async compensate(req: ProvisioningRequest) {
    this.compensations += 1;
    if (this.crashAt === 'compensate-before') return this.crash();
    await this.inner.compensate(req);
    if (this.crashAt === 'compensate-after') return this.crash();
  }
  private crash(): Promise<never> {
    this.die();
    return never();
  }
}

async function orderRow() {
  return orm.em.fork().findOneOrFail(ProductOrder, { id: orderId });
}
async function lineStatus() {
  return (await orm.em.fork().findOneOrFail(Line, { id: lineId })).status;
}
async function sql<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return orm.em.fork().getConnection().execute(text, params) as Promise<T[]>;
}
async function charges() {
  const rows = await sql<{ n: number }>(`select count(*)::int as n from one_off_charge where order_id = ?`, [orderId]);
  const events = await sql<{ n: number }>(`select count(*)::int as n from outbox where subject = ? and payload like ?`, [EVENTS.oneOffChargeCreated.subject, `%${orderId}%`]);
  return { rows: rows[0]!.n, events: events[0]!.n };
}
async function orderEvents(status: string) {
  const rows = await sql<{ n: number }>(`select count(*)::int as n from outbox where subject = ? and payload like ? and payload like ?`, [EVENTS.productOrderStateChanged.subject, `%${orderId}%`, `%"${status}"%`]);
  return rows[0]!.n;
}

/** Starts a saga in `proc` and waits until that process has died (the saga never returns). */
async function runUntilCrash(proc: ReturnType<typeof processWith>) {
  void runOrderSaga(proc.deps, orderId, options).catch(() => undefined);
  for (let i = 0; i < 200 && !proc.killed(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(proc.killed()).toBe(true);
  await new Promise((r) => setTimeout(r, 50)); // a step the dying run might still take
}

async function expectCompletedOnce() {
  const order = await orderRow();
  expect(order.status).toBe('COMPLETED');
  expect(await lineStatus()).toBe('ACTIVE');
  expect(network.network.get(msisdn)).toMatchObject({ status: 'ACTIVE' });
  expect(await charges()).toEqual({ rows: 1, events: 1 });
  expect(await orderEvents('COMPLETED')).toBe(1);
  expect(await orderEvents('FAILED')).toBe(0);
}

async function expectFailedAndUndone() {
  const order = await orderRow();
  expect(order.status).toBe('FAILED');
  expect(order.sagaCompensate).toBe(false);
  expect(await lineStatus()).toBe('PENDING');
  expect(network.network.has(msisdn)).toBe(false);
  expect(await charges()).toEqual({ rows: 0, events: 0 });
  expect(await orderEvents('FAILED')).toBe(1);
  expect(await orderEvents('COMPLETED')).toBe(0);
}

describe('in-process order saga: a crash between any two steps', () => {
  it.each([
    ['after the start committed', { crashAfterCommit: 1 }],
    ['inside the provisioning call, before the network acted', { crashAt: 'execute-before' as const }],
    ['inside the provisioning call, after the network acted', { crashAt: 'execute-after' as const }],
  ])('%s: the sweep (after the lease) resumes it, COMPLETED once, one activation fee', async (_, crash) => {
    const first = processWith(crash);
    await runUntilCrash(first);
    expect((await orderRow()).status).toBe('IN_PROGRESS');
    // The lease has not expired yet: nothing to take over.
    const second = processWith();
    expect(await recoverOrders(second.deps, options)).toEqual([]);
    clock.advance(LEASE_MS + 1);
    const done = await recoverOrders(second.deps, options);
    expect(done.map((d) => [d.orderId, d.order?.status])).toEqual([[orderId, 'COMPLETED']]);
    await expectCompletedOnce();
    // Nothing left for a later sweep.
    clock.advance(10 * LEASE_MS);
    expect(await recoverOrders(processWith().deps, options)).toEqual([]);
    await expectCompletedOnce();
  });

  it('after the completion committed: the order is COMPLETED and no sweep touches it again', async () => {
    await runUntilCrash(processWith({ crashAfterCommit: 2 }));
    clock.advance(LEASE_MS + 1);
    const second = processWith();
    expect(await recoverOrders(second.deps, options)).toEqual([]);
    expect(second.port.executes).toBe(0);
    await expectCompletedOnce();
  });

  it.each([
    ['after the failure was decided (recorded)', { crashAfterCommit: 2 }, 1],
    ['after the order was failed, before the network was undone', { crashAfterCommit: 3 }, 1],
    ['inside the compensation, before the network was undone', { crashAt: 'compensate-before' as const }, 1],
    ['inside the compensation, after the network was undone', { crashAt: 'compensate-after' as const }, 1],
  ])('a failing order, %s: the sweep fails and undoes it without provisioning again', async (_, crash, compensations) => {
    network.behave('NEW_LINE', msisdn, { mode: 'fail-after-apply' });
    await runUntilCrash(processWith(crash));
    expect((await orderRow()).status).toBe('crashAfterCommit' in crash && crash.crashAfterCommit === 2 ? 'IN_PROGRESS' : 'FAILED');
    clock.advance(LEASE_MS + 1);
    const second = processWith();
    const done = await recoverOrders(second.deps, options);
    expect(done.map((d) => [d.orderId, d.order?.status])).toEqual([[orderId, 'FAILED']]);
    expect(second.port.executes).toBe(0);
    expect(second.port.compensations).toBe(compensations);
    await expectFailedAndUndone();
    expect((await orderRow()).failureCode).toBe('PROVISIONING_FAILED');
    clock.advance(10 * LEASE_MS);
    expect(await recoverOrders(processWith().deps, options)).toEqual([]);
  });

  it('two sweeps at once (two replicas) resume the order once', async () => {
    await runUntilCrash(processWith({ crashAt: 'execute-after' }));
    clock.advance(LEASE_MS + 1);
    const a = processWith();
    const b = processWith();
    const [ra, rb] = await Promise.all([recoverOrders(a.deps, options), recoverOrders(b.deps, options)]);
    expect([...ra, ...rb].map((d) => d.orderId)).toEqual([orderId]);
    expect(a.port.executes + b.port.executes).toBe(1);
    await expectCompletedOnce();
  });

  it('a live saga (renewing its lease) is not taken over, even after its first lease ran out', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const live = processWith();
    const slow: ProvisioningAdapter = {
      execute: async (req, o) => {
        await gate;
        return network.execute(req, o);
      },
      compensate: (req) => network.compensate(req),
    };
    const running = runOrderSaga({ ...live.deps, provisioning: slow }, orderId, options);
    await waitFor(async () => (await orderRow()).status === 'IN_PROGRESS');
    const sweeper = processWith();
    expect(await recoverOrders(sweeper.deps, options)).toEqual([]);
    // Past the lease it was given, but it renews: wait for a renewal, then sweep.
    clock.advance(LEASE_MS + 1);
    await waitFor(async () => (await orderRow()).sagaLeaseUntil!.getTime() > clock.now().getTime());
    expect(await recoverOrders(sweeper.deps, options)).toEqual([]);
    expect(sweeper.port.executes).toBe(0);
    release();
    expect((await running).status).toBe('COMPLETED');
    await expectCompletedOnce();
  });

  it('a failOrder the database refuses (uncoded): the failure stays recorded, the sweep fails the order and undoes the network', async () => {
    network.behave('NEW_LINE', msisdn, { mode: 'fail-after-apply' });
    const trigger = `refuse_fail_${n}`;
    await sql(`create function "${schema}".${trigger}() returns trigger language plpgsql as $$ begin if new.status = 'FAILED' then raise exception 'could not serialize access (simulated)'; end if; return new; end $$`);
    await sql(`create trigger ${trigger} before update on "${schema}".product_order for each row execute function "${schema}".${trigger}()`);
    const first = processWith();
    await expect(runOrderSaga(first.deps, orderId, options)).rejects.toThrow(/could not serialize/);
    const left = await orderRow();
    expect(left.status).toBe('IN_PROGRESS');
    expect(JSON.parse(left.sagaFailure!)).toMatchObject({ code: 'PROVISIONING_FAILED' });
    expect(network.network.get(msisdn)).toMatchObject({ status: 'ACTIVE' }); // not undone for an order not failed
    await sql(`drop trigger ${trigger} on "${schema}".product_order`);
    // The run gave its lease up: the next sweep retries the failOrder, without provisioning again.
    const second = processWith();
    const done = await recoverOrders(second.deps, options);
    expect(done.map((d) => [d.orderId, d.order?.status])).toEqual([[orderId, 'FAILED']]);
    expect(second.port.executes).toBe(0);
    await expectFailedAndUndone();
  });

  it('a run that stalled past its lease and was taken over takes no further step', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const stalled = processWith();
    // Stalled (a long GC pause, a frozen VM): it does not even renew its lease.
    const deps: SagaDeps = { ...stalled.deps, provisioning: { execute: async (req, o) => (await gate, network.execute(req, o)), compensate: (req) => network.compensate(req) } };
    const running = runOrderSaga(deps, orderId, { ...options, leaseMs: 60_000_000 }).catch((e: Error) => e);
    await waitFor(async () => (await orderRow()).status === 'IN_PROGRESS');
    clock.advance(60_000_001);
    const other = processWith();
    const done = await recoverOrders(other.deps, options);
    expect(done.map((d) => d.order?.status)).toEqual(['COMPLETED']);
    release();
    expect(((await running) as Error).name).toBe('SagaAbandoned');
    await expectCompletedOnce();
  });
});

async function waitFor(check: () => Promise<boolean>, ms = 5000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
