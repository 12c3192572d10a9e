/**
 * A customerBillCreated usage cannot apply must not hold back the bills after it.
 *
 * The `bills` consumer applied a batch in one go and consumeBatches retries a failed batch for
 * ever: a bill that passed parseBillIssued but failed in SQL (a NUL in an id, a period ending in
 * year 275760, an id longer than its column) was retried for ever, and every later bill waited
 * behind it (its records never BILLED, late events never marked as adjustments). Now such a bill
 * is refused by the parser, and one that still fails while the database answers is parked
 * (terminated) after a few attempts; both are logged and counted (`onDropped`).
 *
 * Real JetStream (a private nats-server: these messages must not reach invoicing's consumers)
 * and PostgreSQL. The consumer is started here beside a service that runs none, so that the
 * drops it counts can be read.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { BILLING_STREAM, createCloudEvent, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { startBillEventsConsumer } from '../src/events/bill-events-consumer';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let svc: TestService;
let db: pg.Client;
let stop: (() => Promise<void>) | undefined;
let dropped: { reason: string; field?: string }[];
const run = Math.random().toString(36).slice(2, 8);
const line = `lin_bp${run}`;
const account = `acc_bp${run}`;
let durable: string;

async function publishBill(data: Record<string, unknown>, key: string) {
  const e = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.customerBillCreated.type, subject: String(data.invoiceId).slice(0, 64), time: new Date('2026-03-02T00:00:00Z'), data, key: [key] });
  await svc.runtime.messaging.js.publish(EVENTS.customerBillCreated.subject, JSON.stringify(e), { msgID: e.id });
}

const bill = (invoiceId: string, extra: Record<string, unknown> = {}) => ({ invoiceId, number: `INV-${invoiceId}`, billingAccountId: account, state: 'SENT', periodStart: '2026-02-01T00:00:00.000Z', periodEnd: '2026-03-01T00:00:00.000Z', currency: 'EUR', netTotal: '1', taxTotal: '0', total: '1', usageAmount: '0', usageRecords: 1, ...extra });

const billedPeriod = async (invoiceId: string) => (await db.query('select invoice_id from billed_period where billing_account_id = $1 and invoice_id = $2', [account, invoiceId])).rows[0];

async function startConsumer() {
  const usage = usageRuntimeOf(svc.runtime);
  durable = `gaps8-bills-${run}-${Math.random().toString(36).slice(2, 6)}`;
  stop = await startBillEventsConsumer(svc.runtime.messaging, usage.sql, usage.pipeline, {
    durable, deliverNew: true, logger: svc.runtime.logger, onDropped: (reason, details) => void dropped.push({ reason, field: details.field }),
  });
}

/** Nothing is left pending or waiting for an ack: the poison message is not on its way back. */
let last: unknown;
async function consumerDrained() {
  await waitFor(async () => {
    const info = await svc.runtime.messaging.jsm.consumers.info(BILLING_STREAM.name, durable);
    last = { pending: info.num_pending, ackPending: info.num_ack_pending };
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }, 15_000, 'the consumer to have acknowledged or terminated every bill').catch((e) => {
    throw new Error(`${(e as Error).message}: ${JSON.stringify(last)}`);
  });
}

beforeAll(async () => {
  nats = await startPrivateNats();
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [], deliverNew: true }), { env: { NATS_URL: nats.url }, clock: new ManualClock(new Date('2026-02-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: line, msisdn: `+49153${String(Date.now()).slice(-7)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-01-01T00:00:00Z', at: '2026-01-01T00:00:00Z', subscriptionId: `sub_bp${run}` });
  const res = await svc.request(RECORD_USAGE, { input: { source: `bp-${run}`, records: [{ eventId: 'feb-call', lineId: line, usageType: 'VOICE', quantity: '60', calledNumber: '+4930123456', occurredAt: '2026-02-10T10:00:00Z' }] } });
  expect(res.errors).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
  // The database itself refuses some bills: one always (P0001, not a data error), one only once.
  // Sequences are not rolled back with the failed insert: they count the attempts.
  await db.query(`create sequence gaps8_poison_attempts; create sequence gaps8_flaky_attempts;
    create function gaps8_refuse() returns trigger language plpgsql as $$
    begin
      if new.invoice_id like 'inv_poison_%' then perform nextval('gaps8_poison_attempts'); raise exception 'refused for %', new.invoice_id; end if;
      if new.invoice_id like 'inv_flaky_%' and nextval('gaps8_flaky_attempts') <= 1 then raise exception 'refused once for %', new.invoice_id; end if;
      return new;
    end $$;
    create trigger gaps8_refuse before insert on billed_period for each row execute function gaps8_refuse();`);
  // One consumer for the whole file (a durable of this process reads every bill published since it started).
  await startConsumer();
}, 60_000);

beforeEach(() => {
  dropped = [];
});

afterAll(async () => {
  await stop?.();
  await db?.end();
  await svc?.close();
  await nats?.stop();
});

describe('a bill event usage cannot apply', () => {
  it.each([
    ['a NUL in the invoice id', { invoiceId: `inv_nul\u0000${run}` }, 'invoiceId'],
    ['a period ending in year 275760', { periodEnd: '+275760-09-13T00:00:00.000Z' }, 'periodEnd'],
    ['an invoice id over 64 characters', { invoiceId: `inv_${'x'.repeat(70)}` }, 'invoiceId'],
  ])('%s is dropped, logged and counted; the good bill after it is applied', async (what, bad, field) => {
    const good = `inv_good_${what.length}_${run}`;
    await publishBill(bill(`inv_bad_${run}`, bad), `bad-${what}`);
    await publishBill(bill(good), `good-${what}`);
    await waitFor(() => billedPeriod(good), 15_000, 'the good bill to be applied');
    await consumerDrained();
    expect(dropped).toEqual([{ reason: 'invalid', field }]);
    expect((await db.query(`select status from usage_record where line_id = $1`, [line])).rows).toEqual([{ status: 'BILLED' }]);
  }, 40_000);

  it('parks a bill the database keeps refusing (after a few attempts), and applies the next', async () => {
    const poison = `inv_poison_${run}`;
    const good = `inv_after_poison_${run}`;
    await publishBill(bill(poison), 'poison');
    await publishBill(bill(good), 'after-poison');
    await waitFor(() => billedPeriod(good), 20_000, 'the bill after the poison one to be applied');
    await consumerDrained();
    const attempts = Number((await db.query('select last_value from gaps8_poison_attempts')).rows[0].last_value);
    expect(attempts).toBe(3);
    expect(dropped).toEqual([{ reason: 'unstorable', field: undefined }]);
    expect(await billedPeriod(poison)).toBeUndefined();
  }, 40_000);

  it('retries a bill that fails once (not parked) until it is applied', async () => {
    const flaky = `inv_flaky_${run}`;
    await publishBill(bill(flaky), 'flaky');
    await waitFor(() => billedPeriod(flaky), 20_000, 'the flaky bill to be applied');
    await consumerDrained();
    expect(Number((await db.query('select last_value from gaps8_flaky_attempts')).rows[0].last_value)).toBe(2);
    expect(dropped).toEqual([]);
  }, 40_000);
});
