/**
 * RATED → BILLED when invoicing bills the period (customerBillCreated), and a late event in a
 * billed period: rated by the plan version in force at its time, kept RATED, its ChargeRequest
 * carrying adjustsInvoiceId (and every ChargeRequest its tariff zone).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, sqlOf, storedChargeRequests, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-03-01T06:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_bill${run}`;
const line = `lin_bill${run}`;
const invoiceId = `inv_${run}`;

async function record(records: Record<string, unknown>[]) {
  const res = await svc.request(RECORD_USAGE, { input: { source: `bill-${run}`, records } });
  expect(res.errors).toBeUndefined();
  return res.data.recordUsage;
}

async function publishBill(key: string) {
  const data = { invoiceId, number: `INV-${run}`, billingAccountId: account, state: 'SENT', periodStart: '2026-02-01T00:00:00.000Z', periodEnd: '2026-03-01T00:00:00.000Z', currency: 'EUR', netTotal: '10', taxTotal: '1.9', total: '11.9', usageAmount: '0', usageRecords: 2 };
  const e = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.customerBillCreated.type, subject: invoiceId, time: new Date('2026-03-02T00:00:00Z'), data, key: [invoiceId, key] });
  await svc.runtime.messaging.js.publish(EVENTS.customerBillCreated.subject, JSON.stringify(e), { msgID: e.id });
}

const statusOf = async (eventId: string) => (await db.query('select status, adjusts_invoice_id, zone, plan_version_id from usage_record where event_id = $1 and line_id = $2', [eventId, line])).rows[0];

beforeAll(async () => {
  // A plan version change on 2026-02-20: a late event of 2026-02-10 is rated by the old one.
  const newer = planDocument('postpaid-20gb.json');
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_post_v2: newer }), consumers: ['bills'], deliverNew: true }), { clock });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: line, msisdn: `+49152${run.replace(/\D/g, '7').padEnd(7, '7').slice(0, 7)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-01-01T00:00:00Z', at: '2026-01-01T00:00:00Z', subscriptionId: `sub_bill${run}` });
  await setLine(svc, { lineId: line, msisdn: `+49152${run.replace(/\D/g, '7').padEnd(7, '7').slice(0, 7)}`, account, planVersionId: 'plv_post_v2', paymentMode: 'POSTPAID', startsAt: '2026-02-20T00:00:00Z', at: '2026-02-20T00:00:00Z', subscriptionId: `sub_bill${run}` });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('billed periods and late events', () => {
  it('marks the billed period BILLED once, and sends a late event of that period as an adjustment of the invoice', async () => {
    // Rated before the bill run: a national call and EU roaming data in February.
    await record([
      { eventId: 'feb-call', lineId: line, usageType: 'VOICE', quantity: '60', calledNumber: '+4930123456', occurredAt: '2026-02-25T10:00:00Z' },
      { eventId: 'feb-roam', lineId: line, usageType: 'DATA', quantity: '100', roamingCountry: 'FR', occurredAt: '2026-02-26T10:00:00Z' },
      { eventId: 'mar-us', lineId: line, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt: '2026-03-01T01:00:00Z' },
    ]);
    // Every charge names its tariff zone.
    const zones = Object.fromEntries((await storedChargeRequests(db, 'payload like $1', [`%${line}%`])).map((c) => [c.occurredAt, c.zone]));
    expect(zones).toEqual({ '2026-02-25T10:00:00.000Z': 'NATIONAL', '2026-02-26T10:00:00.000Z': 'ROAMING_EU', '2026-03-01T01:00:00.000Z': 'ROAMING_WORLD1' });

    clock.set(new Date('2026-03-02T06:00:00Z'));
    await publishBill('issued');
    await waitFor(async () => (await statusOf('feb-call'))?.status === 'BILLED', 15_000, 'the February records to be billed');
    expect(await statusOf('feb-roam')).toMatchObject({ status: 'BILLED', zone: 'ROAMING_EU' });
    expect((await statusOf('mar-us')).status).toBe('RATED');

    // A late event of February, after the bill: rated by the plan version in force on Feb 10 (v1),
    // stays RATED, and its charge adjusts the invoice.
    const late = await record([{ eventId: 'feb-late', lineId: line, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt: '2026-02-10T09:00:00Z' }]);
    expect(late.rated).toBe(1);
    expect(await statusOf('feb-late')).toMatchObject({ status: 'RATED', adjusts_invoice_id: invoiceId, plan_version_id: 'plv_postpaid', zone: 'ROAMING_WORLD1' });
    const [charge] = await storedChargeRequests(db, `payload like '%feb-late%' or payload like $1`, [`%"occurredAt":"2026-02-10T09:00:00.000Z"%`]);
    expect(charge).toMatchObject({ adjustsInvoiceId: invoiceId, zone: 'ROAMING_WORLD1', units: '10', pricePerUnit: '0.49' });
    // An event of the open period is not an adjustment.
    await record([{ eventId: 'mar-late', lineId: line, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-01T20:00:00Z' }]);
    expect((await statusOf('mar-late')).adjusts_invoice_id).toBeNull();

    // The same bill again (a redelivery with another message id): nothing changes, the late one stays RATED.
    await publishBill('redelivered');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await db.query('select count(*)::int as n from billed_period where billing_account_id = $1', [account])).rows[0].n).toBe(1);
    const statuses = (await db.query(`select event_id, status from usage_record where line_id = $1 order by event_id`, [line])).rows;
    expect(statuses).toEqual([
      { event_id: 'feb-call', status: 'BILLED' },
      { event_id: 'feb-late', status: 'RATED' },
      { event_id: 'feb-roam', status: 'BILLED' },
      { event_id: 'mar-late', status: 'RATED' },
      { event_id: 'mar-us', status: 'RATED' },
    ]);
    const gql = await svc.request(`{ usageRecords(filter: { lineId: "${line}", status: BILLED }) { totalCount edges { node { status zone adjustsInvoiceId } } } }`);
    expect(gql.errors).toBeUndefined();
    expect(gql.data.usageRecords.totalCount).toBe(2);
  });
});
