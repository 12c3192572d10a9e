/**
 * Review 9, the `bills` consumer's parking (bill-events-consumer.ts):
 * - a bill that waited through a database outage had been delivered many times (JetStream
 *   redelivers it after each ack wait to instances restarted during the outage); the consumer
 *   counted `deliveryCount` as attempts, so the first ordinary error once the database was back
 *   parked it without a single real retry. Attempts are now only failures while the database
 *   answers, counted in memory per message (a restart resets them).
 * - a statement timeout (SQLSTATE 57014, a large account's bill) was counted as the bill's own
 *   fault and parked after 3; it is transient: retried.
 *
 * Real JetStream (a private nats-server, as gaps8-bill-poison.test.ts) and PostgreSQL; the outage is
 * a pool that refuses every query and connection while `down` is set.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { BILLING_STREAM, createCloudEvent, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { startBillEventsConsumer } from '../src/events/bill-events-consumer';
import { ensureDurable } from '../src/events/jetstream';
import type { Sql } from '../src/persistence/sql';
import { filePlanSource, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let svc: TestService;
let db: pg.Client;
let dropped: { reason: string; problem?: string }[];
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_br${run}`;

async function publishBill(invoiceId: string) {
  const data = { invoiceId, number: `INV-${invoiceId}`, billingAccountId: account, state: 'SENT', periodStart: '2026-02-01T00:00:00.000Z', periodEnd: '2026-03-01T00:00:00.000Z', currency: 'EUR', netTotal: '1', taxTotal: '0', total: '1', usageAmount: '0', usageRecords: 0 };
  const e = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.customerBillCreated.type, subject: invoiceId, time: new Date('2026-03-02T00:00:00Z'), data, key: [invoiceId] });
  await svc.runtime.messaging.js.publish(EVENTS.customerBillCreated.subject, JSON.stringify(e), { msgID: e.id });
}

const billedPeriod = async (invoiceId: string) => (await db.query('select invoice_id from billed_period where invoice_id = $1', [invoiceId])).rows[0];
const attempts = async (seq: string) => Number((await db.query(`select last_value from ${seq}`)).rows[0].last_value);

/** The usage pool, refusing everything while `outage.down` (the database unreachable). */
const outage = { down: false };
function poolWithOutage(pool: Sql): Sql {
  return new Proxy(pool, {
    get(target, prop) {
      if (outage.down && (prop === 'query' || prop === 'connect')) {
        return () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function startConsumer(durable: string, sql: Sql) {
  return startBillEventsConsumer(svc.runtime.messaging, sql, usageRuntimeOf(svc.runtime).pipeline, {
    durable, deliverNew: true, logger: svc.runtime.logger, onDropped: (reason) => void dropped.push({ reason }),
  });
}

beforeAll(async () => {
  nats = await startPrivateNats();
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [], deliverNew: true }), { env: { NATS_URL: nats.url }, clock: new ManualClock(new Date('2026-03-02T12:00:00Z')) });
  db = await sqlOf(svc);
  // The database refuses some bills: an ordinary error once after the outage, a statement timeout 4 times.
  await db.query(`create sequence r9_outage_attempts; create sequence r9_timeout_attempts;
    create function r9_refuse() returns trigger language plpgsql as $$
    begin
      if new.invoice_id like 'inv_outage_%' and nextval('r9_outage_attempts') <= 1 then raise exception 'refused once for %', new.invoice_id; end if;
      if new.invoice_id like 'inv_timeout_%' and nextval('r9_timeout_attempts') <= 4 then
        raise exception 'canceling statement due to statement timeout' using errcode = '57014';
      end if;
      return new;
    end $$;
    create trigger r9_refuse before insert on billed_period for each row execute function r9_refuse();`);
}, 60_000);

beforeEach(() => {
  dropped = [];
  outage.down = false;
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await nats?.stop();
});

describe('parking a bill the database refuses', () => {
  it('does not count deliveries during a database outage as attempts', async () => {
    const durable = `r9-outage-${run}`;
    // A short ack wait, so the outage's redeliveries take seconds, not 30 s each.
    await ensureDurable(svc.runtime.messaging, { durable, filter: EVENTS.customerBillCreated.subject, deliverNew: true, ackWaitMs: 1000 });
    const invoiceId = `inv_outage_${run}`;
    outage.down = true;
    const before = await startConsumer(durable, poolWithOutage(usageRuntimeOf(svc.runtime).sql));
    await publishBill(invoiceId);
    await waitFor(async () => (await svc.runtime.messaging.jsm.consumers.info(BILLING_STREAM.name, durable)).delivered.consumer_seq >= 4, 20_000, 'the bill to be redelivered during the outage');
    await before(); // usage stops while the database is still down
    // ...and is killed before it can answer, a few times (a liveness probe, a node drain): each
    // delivery then lapses after the ack wait, and its delivery count stays raised.
    const raw = await svc.runtime.messaging.js.consumers.get(BILLING_STREAM.name, durable);
    let deliveries = 0;
    while (deliveries < 3) {
      for await (const m of await raw.fetch({ max_messages: 1, expires: 3000 })) deliveries = m.info.deliveryCount;
    }
    outage.down = false;

    const after = await startConsumer(durable, usageRuntimeOf(svc.runtime).sql);
    try {
      await waitFor(() => billedPeriod(invoiceId), 20_000, 'the bill to be applied after the outage');
    } finally {
      await after();
    }
    expect(await attempts('r9_outage_attempts')).toBe(2); // one ordinary failure, then applied
    expect(dropped).toEqual([]);
  }, 60_000);

  it('retries a statement timeout (57014) instead of parking it', async () => {
    const invoiceId = `inv_timeout_${run}`;
    const stop = await startConsumer(`r9-timeout-${run}`, usageRuntimeOf(svc.runtime).sql);
    try {
      await publishBill(invoiceId);
      await waitFor(() => billedPeriod(invoiceId), 20_000, 'the bill to be applied after the timeouts');
    } finally {
      await stop();
    }
    expect(await attempts('r9_timeout_attempts')).toBe(5);
    expect(dropped).toEqual([]);
  }, 60_000);
});
