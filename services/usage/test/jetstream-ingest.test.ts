import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, EVENTS, usageIngestSubject, usagePartitionOf, WORK_SUBJECTS, type ChargeResult, type LineStateData, type SubscriptionData } from '@ledgerline/contracts';
import { scrapeMetrics, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { filePlanSource, sqlOf, storedChargeRequests, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const line = `lin_js${run}`;
const msisdn = `+49151${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
const account = `acc_js${run}`;
const source = `js-${run}`;

async function publishEvent(name: 'lineStateChanged' | 'subscriptionCreated', data: LineStateData | SubscriptionData, time: string, key: string) {
  const e = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS[name].type, subject: data.lineId, time: new Date(time), data, key: [key] });
  await svc.runtime.messaging.js.publish(EVENTS[name].subject, JSON.stringify(e), { msgID: e.id });
}

async function countRecords(where = 'true', params: unknown[] = []): Promise<number> {
  const { rows } = await db.query(`select count(*)::int as n from usage_record where source = $1 and ${where}`, [source, ...params]);
  return rows[0].n;
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['ingest', 'subscribers', 'charges'], deliverNew: true }));
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('JetStream ingestion with the read model built from subscribers events', () => {
  it('rates every event once although each is sent twice, rejects bad messages without stopping, and settles charges from wallets', async () => {
    await publishEvent('lineStateChanged', { lineId: line, msisdn, billingAccountId: account, status: 'ACTIVE' }, '2026-01-01T00:00:00Z', `${run}-l1`);
    await publishEvent('subscriptionCreated', { subscriptionId: `sub_${run}`, lineId: line, msisdn, billingAccountId: account, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'PREPAID_BUNDLE_30D', planVersionId: 'plv_prepaid', status: 'ACTIVE', startsAt: '2026-01-01T00:00:00Z', endsAt: null, addOns: [] }, '2026-01-01T00:00:00Z', `${run}-s1`);
    await waitFor(async () => (await db.query('select 1 from subscription_version where line_id = $1', [line])).rowCount, 10_000, 'the read model');

    const subject = usageIngestSubject(usagePartitionOf(msisdn));
    const N = 200;
    const js = svc.runtime.messaging.js;
    for (let copy = 0; copy < 2; copy++) {
      await Promise.all(
        Array.from({ length: N }, (_, i) =>
          js.publish(subject, JSON.stringify({ source, eventId: `ev${i}`, msisdn, usageType: 'SMS', quantity: '1', calledNumber: '+4915199999999', occurredAt: new Date(Date.now() - (N - i) * 1000).toISOString() })),
        ),
      );
    }
    await js.publish(subject, 'this is not json');
    await js.publish(subject, JSON.stringify({ source, eventId: 'unknown-line', lineId: `lin_missing${run}`, usageType: 'DATA', quantity: '1', occurredAt: new Date().toISOString() }));
    await js.publish(subject, JSON.stringify({ source, eventId: 'bad-qty', msisdn, usageType: 'DATA', quantity: 'lots', occurredAt: new Date().toISOString() }));

    await waitFor(async () => (await countRecords()) === N + 2, 20_000, 'all records');
    expect(await countRecords("status = 'RATED'")).toBe(N);
    const sent = await storedChargeRequests(db, 'payload like $1', [`%${line}%`]);
    expect(sent).toHaveLength(N);
    expect(new Set(sent.map((c) => c.chargeId)).size).toBe(N);

    const rejected = await svc.request(`{ rejectedUsage(filter: { source: "${source}" }) { totalCount edges { node { eventId rejectionCode rejectionReason } } } }`);
    expect(rejected.data.rejectedUsage.edges.map((e: { node: { rejectionCode: string } }) => e.node.rejectionCode).sort()).toEqual(['LINE_UNKNOWN', 'QUANTITY_INVALID']);
    const garbage = await db.query(`select rejection_code, raw from usage_record where source = 'nats' and raw = 'this is not json'`);
    expect(garbage.rows[0]).toMatchObject({ rejection_code: 'RECORD_MALFORMED' });

    // Wallets answers one charge: the record moves to its final charge status, once.
    const chargeId = (await db.query(`select id from usage_record where source = $1 and event_id = 'ev0'`, [source])).rows[0].id;
    const result: ChargeResult = { chargeId, outcome: 'APPLIED', billingAccountId: account, lineId: line, paymentMode: 'PREPAID', usageType: 'SMS', occurredAt: new Date().toISOString(), units: '1', unit: 'MESSAGE', unitsFromAllowances: '1', amountCharged: '0', currency: 'EUR' };
    const before = await scrapeMetrics(svc);
    // Every rated event's charge waits for wallets: /metrics shows the backlog and its age.
    expect(before.ledgerline_usage_charges_pending).toBe(N);
    expect(before.ledgerline_usage_oldest_pending_charge_seconds).toBeGreaterThanOrEqual(0);
    expect(before.ledgerline_usage_oldest_pending_charge_seconds).toBeLessThan(120);
    expect(before.ledgerline_usage_batch_seconds_count).toBeGreaterThanOrEqual(1);
    await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(result));
    await waitFor(async () => (await db.query(`select 1 from charge_outcome where usage_record_id = $1 and outcome = 'APPLIED'`, [chargeId])).rowCount, 30_000, 'the charge result');
    // The same result again (a redelivery) settles nothing more.
    await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify([result]));
    await waitFor(async () => (await scrapeMetrics(svc))['ledgerline_usage_charges_settled_total{outcome="APPLIED"}'] === 1, 10_000, 'the settled counter');
    await new Promise((r) => setTimeout(r, 500));
    const after = await scrapeMetrics(svc);
    expect(after['ledgerline_usage_charges_settled_total{outcome="APPLIED"}']).toBe(1);
    expect(after.ledgerline_usage_charges_pending).toBe(N - 1);

    // The line is suspended (an event): its next usage is denied.
    await publishEvent('lineStateChanged', { lineId: line, msisdn, billingAccountId: account, status: 'SUSPENDED' }, new Date().toISOString(), `${run}-l2`);
    await waitFor(async () => (await db.query(`select 1 from line_state where line_id = $1 and status = 'SUSPENDED'`, [line])).rowCount, 10_000, 'the suspension');
    await js.publish(subject, JSON.stringify({ source, eventId: 'after-suspension', msisdn, usageType: 'SMS', quantity: '1', occurredAt: new Date().toISOString() }));
    await waitFor(async () => (await countRecords("event_id = 'after-suspension' and status = 'REJECTED' and rejection_code = 'LINE_SUSPENDED'")) === 1, 10_000, 'the denial');
  });

  it('reprocesses rejected records after a fix, and only once', async () => {
    const missing = `lin_missing${run}`;
    await svc.request(`mutation($i: LineContextInput!) { upsertLineContext(input: $i) { lineId } }`, {
      i: { lineId: missing, billingAccountId: account, status: 'ACTIVE', at: '2026-01-01T00:00:00Z', subscription: { subscriptionId: `sub_m${run}`, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'P', planVersionId: 'plv_prepaid', startsAt: '2026-01-01T00:00:00Z' } },
    });
    const q = `mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected results { eventId status rejectionCode } } }`;
    const first = await svc.request(q, { i: { lineId: missing } });
    expect(first.data.reprocessRejected).toMatchObject({ rated: 1, stillRejected: 0 });
    expect((await svc.request(q, { i: { lineId: missing } })).data.reprocessRejected).toMatchObject({ rated: 0, results: [] });
    // A malformed quantity is fixed by a patch.
    const fixed = await svc.request(q, { i: { rejectionCode: 'QUANTITY_INVALID', patch: { quantity: '2' } } });
    // It happened before the line was suspended: rated by the line's status then.
    expect(fixed.data.reprocessRejected.results.find((r: { eventId: string }) => r.eventId === 'bad-qty')).toMatchObject({ status: 'RATED' });
    expect(await storedChargeRequests(db, 'payload like $1', [`%${missing}%`])).toHaveLength(1);
  });

  it('rates usage that came before the events provisioning its line as soon as they arrive', async () => {
    const early = `lin_early${run}`;
    const number = `+49152${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    const js = svc.runtime.messaging.js;
    const subject = usageIngestSubject(usagePartitionOf(number));
    const at = new Date(Date.now() - 60_000).toISOString();
    await js.publish(subject, JSON.stringify({ source, eventId: 'too-early', msisdn: number, usageType: 'SMS', quantity: '1', calledNumber: '+4915199999999', occurredAt: at }));
    await js.publish(subject, JSON.stringify({ source, eventId: 'early-and-broken', msisdn: number, usageType: 'SMS', quantity: 'one', occurredAt: at }));
    const codeOf = async (eventId: string) => (await db.query('select status, rejection_code from usage_record where source = $1 and event_id = $2', [source, eventId])).rows[0];
    await waitFor(async () => (await codeOf('too-early'))?.rejection_code === 'LINE_UNKNOWN', 10_000, 'the rejection of usage for a number usage does not know');

    // The line arrives first: the record is rated again and now waits for its subscription.
    await publishEvent('lineStateChanged', { lineId: early, msisdn: number, billingAccountId: account, status: 'ACTIVE' }, new Date(Date.now() - 3_600_000).toISOString(), `${run}-e1`);
    await waitFor(async () => (await codeOf('too-early'))?.rejection_code === 'SUBSCRIPTION_NOT_FOUND', 10_000, 'the record to be tried again when the line arrives');
    // Then the subscription: rated and charged once, with no one calling reprocessRejected.
    const started = new Date(Date.now() - 3_600_000).toISOString();
    await publishEvent('subscriptionCreated', { subscriptionId: `sub_e${run}`, lineId: early, msisdn: number, billingAccountId: account, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'PREPAID_BUNDLE_30D', planVersionId: 'plv_prepaid', status: 'ACTIVE', startsAt: started, endsAt: null, addOns: [] }, started, `${run}-e2`);
    await waitFor(async () => (await codeOf('too-early'))?.status === 'RATED', 10_000, 'the record to be rated when its subscription arrives');
    expect(await storedChargeRequests(db, 'payload like $1', [`%${early}%`])).toHaveLength(1);
    // A record that was wrong, not early, is left for a person to fix.
    expect(await codeOf('early-and-broken')).toEqual({ status: 'REJECTED', rejection_code: 'QUANTITY_INVALID' });
  });
});
