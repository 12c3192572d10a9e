/**
 * Review 9: a record rated after its period's invoice was issued (its charge reached invoicing
 * after that bill run read the unbilled charges, so invoicing bills it on the NEXT invoice:
 * `c.invoice_id is null and c.occurred_at < p.period_end`). STATUS.md: "records rated after the
 * invoice's time stay RATED until the next invoice". mark-billed.ts (d43d892) looks at earlier
 * periods (before the end of the last billed period, the "floor") only for RERATED records or late
 * ones carrying adjusts_invoice_id; a record rated between the invoice's issue and usage applying
 * the bill event carries neither, so no later invoice ever marks it BILLED: it stays RATED for good
 * (`usageRecords(status: BILLED)` never lists it, although it was billed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, settleCharges, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-03-05T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_r9b${run}`;
const line = `lin_r9b${run}`;

async function record(eventId: string, occurredAt: string) {
  const res = await svc.request(RECORD_USAGE, { input: { source: `r9b-${run}`, records: [{ eventId, lineId: line, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt }] } });
  expect(res.errors).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
}

async function publishBill(invoiceId: string, periodStart: string, periodEnd: string, issuedAt: string) {
  const data = { invoiceId, number: `INV-${invoiceId}`, billingAccountId: account, state: 'SENT', periodStart, periodEnd, currency: 'EUR', netTotal: '1', taxTotal: '0', total: '1', usageAmount: '1', usageRecords: 1 };
  const e = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.customerBillCreated.type, subject: invoiceId, time: new Date(issuedAt), data, key: [invoiceId, 'issued'] });
  await svc.runtime.messaging.js.publish(EVENTS.customerBillCreated.subject, JSON.stringify(e), { msgID: e.id });
  await waitFor(async () => (await db.query('select 1 from billed_period where invoice_id = $1', [invoiceId])).rowCount, 15_000, `${invoiceId} to be applied`);
}

const statuses = async () => Object.fromEntries((await db.query('select event_id, status from usage_record where line_id = $1', [line])).rows.map((r) => [r.event_id, r.status]));

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['bills'], deliverNew: true }), { clock });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: line, msisdn: `+49156${String(Date.now()).slice(-7)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-01-01T00:00:00Z', at: '2026-01-01T00:00:00Z', subscriptionId: `sub_r9b${run}` });
}, 60_000);

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('a record rated after its invoice was issued', () => {
  it('is marked BILLED by the next invoice, which bills it', async () => {
    await record('mar-a', '2026-03-03T10:00:00Z');
    await settleCharges(db, [line], 'APPLIED');

    // March's invoice is issued at 00:00 on April 2; usage rates a CDR of March 31 at 06:00, before
    // it has applied the bill event (the event is consumed after). Its charge reached invoicing after
    // March's bill run: April's invoice bills it.
    clock.set(new Date('2026-04-02T06:00:00Z'));
    await record('mar-after', '2026-03-31T10:00:00Z');
    await settleCharges(db, [line], 'APPLIED');
    await publishBill(`inv_mar_${run}`, '2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z', '2026-04-02T00:00:00Z');
    expect(await statuses()).toEqual({ 'mar-a': 'BILLED', 'mar-after': 'RATED' }); // as documented: until the next invoice

    clock.set(new Date('2026-04-10T12:00:00Z'));
    await record('apr-a', '2026-04-10T10:00:00Z');
    await settleCharges(db, [line], 'APPLIED');

    clock.set(new Date('2026-05-02T06:00:00Z'));
    await publishBill(`inv_apr_${run}`, '2026-04-01T00:00:00.000Z', '2026-05-01T00:00:00.000Z', '2026-05-02T00:00:00Z');
    // April's invoice billed mar-after's charge (occurred before its period's end, unbilled, reached
    // the ledger long before it was issued): usage must say BILLED.
    expect(await statuses()).toEqual({ 'mar-a': 'BILLED', 'mar-after': 'BILLED', 'apr-a': 'BILLED' });
  }, 60_000);
});
