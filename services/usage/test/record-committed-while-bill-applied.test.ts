/**
 * A late record whose insert commits while usage applies its period's bill event (STATUS.md, BILLED:
 * "A late event whose insert commits while the bill event's transaction runs may miss both its
 * adjustsInvoiceId and the `missed_by_invoice_id` mark, and then no later invoice marks it BILLED").
 *
 * The record was rated before usage knew the period was billed (no adjusts_invoice_id), and its
 * batch's COMMIT is held (a slow disk, a busy PostgreSQL) until the bill's transaction has committed:
 * the bill's statements never saw it, so it got no `missed_by_invoice_id` either. Once the next
 * period is billed it is below that invoice's floor and looks like a record the March invoice billed:
 * it stayed RATED for good, although April's invoice billed its charge.
 *
 * The interleaving is fixed by the test (the commit is released only once the bill's billed_period
 * row is visible to another connection), not by timing. Real JetStream (a private nats-server, so the
 * `bills` consumer sees only this test's bills) and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { BILLING_STREAM, createCloudEvent, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, commitHolder, filePlanSource, setLine, settleCharges, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let svc: TestService;
let db: pg.Client;
let holdNextCommit: ReturnType<typeof commitHolder>['holdNextCommit'];
const clock = new ManualClock(new Date('2026-03-05T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_cwb${run}`;
const line = `lin_cwb${run}`;

const usage = (eventId: string, occurredAt: string) => ({ input: { source: `cwb-${run}`, records: [{ eventId, lineId: line, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt }] } });

async function record(eventId: string, occurredAt: string) {
  const res = await svc.request(RECORD_USAGE, usage(eventId, occurredAt));
  expect(res.errors).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
}

const billEvent = (invoiceId: string, periodStart: string, periodEnd: string, issuedAt: string) => {
  const data = { invoiceId, number: `INV-${invoiceId}`, billingAccountId: account, state: 'SENT', periodStart, periodEnd, currency: 'EUR', netTotal: '1', taxTotal: '0', total: '1', usageAmount: '1', usageRecords: 1 };
  return createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.customerBillCreated.type, subject: invoiceId, time: new Date(issuedAt), data, key: [invoiceId, 'issued'] });
};

/** Publishes a bill event and returns its stream sequence (another `msgID`: delivered again, not deduplicated by JetStream). */
async function publish(event: ReturnType<typeof billEvent>, msgID = event.id): Promise<number> {
  return (await svc.runtime.messaging.js.publish(EVENTS.customerBillCreated.subject, JSON.stringify(event), { msgID })).seq;
}

/** Until the `bills` consumer has acknowledged every message up to `seq` (it has finished with them). */
async function handled(seq: number) {
  const durable = `usage-${svc.schema}-bills`;
  await waitFor(async () => {
    const info = await svc.runtime.messaging.jsm.consumers.info(BILLING_STREAM.name, durable);
    return info.ack_floor.stream_seq >= seq && info.num_ack_pending === 0;
  }, 20_000, `bill message ${seq} to be handled`);
}

const billedPeriod = async (invoiceId: string) => (await db.query('select 1 from billed_period where invoice_id = $1', [invoiceId])).rowCount;
const records = async () => Object.fromEntries((await db.query('select event_id, status, adjusts_invoice_id, missed_by_invoice_id from usage_record where line_id = $1', [line])).rows.map((r) => [r.event_id, { status: r.status, adjusts: r.adjusts_invoice_id, missed: r.missed_by_invoice_id }]));

beforeAll(async () => {
  nats = await startPrivateNats();
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['bills'], deliverNew: true }), { env: { NATS_URL: nats.url }, clock });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: line, msisdn: `+49157${String(Date.now()).slice(-7)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-01-01T00:00:00Z', at: '2026-01-01T00:00:00Z', subscriptionId: `sub_cwb${run}` });
  ({ holdNextCommit } = commitHolder(svc));
}, 60_000);

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await nats?.stop();
});

describe('a late record committed while its period’s bill is applied', () => {
  it('is marked for the next invoice, which bills it; redelivered bills change nothing', async () => {
    await record('mar-a', '2026-03-03T10:00:00Z'); // also loads the account's billed periods (none yet) into the pipeline
    await settleCharges(db, [line], 'APPLIED');

    // March's invoice was issued at 00:00 on April 2. At 06:00 usage rates a CDR of March 31, not
    // knowing of that invoice yet (its bill event is still on its way): no adjustsInvoiceId. Its
    // batch's COMMIT is slow...
    clock.set(new Date('2026-04-02T06:00:00Z'));
    const { held, release } = holdNextCommit();
    const late = svc.request(RECORD_USAGE, usage('mar-late', '2026-03-31T10:00:00Z'));
    await held;
    // ...and the bill event is applied meanwhile: its transaction commits before the record's.
    const march = billEvent(`inv_mar_${run}`, '2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z', '2026-04-02T00:00:00Z');
    const seq = await publish(march);
    await waitFor(() => billedPeriod(`inv_mar_${run}`), 20_000, 'the March bill to be committed');
    release();
    const res = await late;
    expect(res.errors).toBeUndefined();
    expect(res.data.recordUsage.rated).toBe(1);
    await handled(seq);

    // Rated after March's invoice was issued: April's invoice bills it, so it waits for a later invoice.
    expect(await records()).toEqual({
      'mar-a': { status: 'BILLED', adjusts: null, missed: null },
      'mar-late': { status: 'RATED', adjusts: null, missed: `inv_mar_${run}` },
    });

    await settleCharges(db, [line], 'APPLIED');
    clock.set(new Date('2026-04-10T12:00:00Z'));
    await record('apr-a', '2026-04-10T10:00:00Z');
    await settleCharges(db, [line], 'APPLIED');

    // April's invoice bills mar-late's charge (occurred before its period's end, unbilled when it was issued).
    clock.set(new Date('2026-05-02T06:00:00Z'));
    const april = billEvent(`inv_apr_${run}`, '2026-04-01T00:00:00.000Z', '2026-05-01T00:00:00.000Z', '2026-05-02T00:00:00Z');
    await handled(await publish(april));
    const billed = {
      'mar-a': { status: 'BILLED', adjusts: null, missed: null },
      'mar-late': { status: 'BILLED', adjusts: null, missed: `inv_mar_${run}` },
      'apr-a': { status: 'BILLED', adjusts: null, missed: null },
    };
    expect(await records()).toEqual(billed);

    // Both bills delivered again change nothing.
    await handled(await publish(march, `${march.id}:again`));
    await handled(await publish(april, `${april.id}:again`));
    expect(await records()).toEqual(billed);
  }, 90_000);
});
