/**
 * reprocessRejected of records another reprocess is rating at the same time (two
 * operators, or an operator and the subscribers' consumer's reprocessWaiting after a line event)
 * while ingestion is busy.
 *
 * The second reprocess reads the records as still REJECTED (its duplicate check ran before the
 * first one's commit) but is rated after the first one's write is done, so `writing` no longer
 * names them and the redelivery guard (redelivery.test.ts) does not see it: the records are rated
 * a second time into the live counters. The insert then finds them stored and the counters are
 * cleared - but only after the batches queued meanwhile were rated against the doubled counters:
 * here the 80 % crossing of the next event is lost for good, that event is estimated as overage
 * (live usage shows the bundle at 54 % while 83 % is used), and a "100 % used" notification goes
 * out for a bundle that is not used up.
 *
 * Everything goes through GraphQL; the order is arranged with batches that take their time in the
 * pipeline (one line's rating waits for the batches before it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import type { PlanSource } from '../src/application/plan-cache';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);

/**
 * The catalog, slow for two plan versions (a busy catalog subgraph): the first event of a line on
 * one of them holds the pipeline for a while - the way a large batch does in production.
 */
function slowCatalog(): PlanSource {
  const files = filePlanSource();
  return {
    async load(id: string) {
      if (!id.startsWith('plv_slow')) return files.load(id);
      await new Promise((r) => setTimeout(r, 700));
      const doc = await files.load('plv_prepaid');
      return doc && { ...doc, id, version: id };
    },
  };
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: slowCatalog(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: `lin_slowa${run}`, msisdn: '+4915100008211', account: `acc_slowa${run}`, planVersionId: 'plv_slow_a', paymentMode: 'PREPAID' });
  await setLine(svc, { lineId: `lin_slowb${run}`, msisdn: '+4915100008212', account: `acc_slowb${run}`, planVersionId: 'plv_slow_b', paymentMode: 'PREPAID' });
  await setLine(svc, { lineId: `lin_slowc${run}`, msisdn: '+4915100008213', account: `acc_slowc${run}`, planVersionId: 'plv_slow_c', paymentMode: 'PREPAID' });
  await setLine(svc, { lineId: `lin_slowd${run}`, msisdn: '+4915100008214', account: `acc_slowd${run}`, planVersionId: 'plv_slow_d', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const REPROCESS = `mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected results { duplicate } } }`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** One event of a line whose plan the catalog is slow to give. */
const slow = (which: 'a' | 'b' | 'c' | 'd') => ({ input: { source: `slow-${run}`, records: [{ eventId: `slow-${which}`, lineId: `lin_slow${which}${run}`, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-03-10T11:00:00Z' }] } });

describe('a second copy of records read before the first copy was stored', () => {
  it('records rated by one reprocess are not counted again by the other: the next crossing is found and live usage is right', async () => {
    const lineId = `lin_rpr${run}`;
    const source = `rpr-${run}`;
    // 5,500 MB of usage that came before its line (LINE_UNKNOWN), then the line arrives.
    const early = Array.from({ length: 11 }, (_, i) => ({ eventId: `early-${i}`, lineId, usageType: 'DATA', quantity: '500', occurredAt: '2026-03-10T10:00:00Z' }));
    expect((await svc.request(RECORD_USAGE, { input: { source, records: early } })).data.recordUsage.rejected).toBe(11);
    await setLine(svc, { lineId, msisdn: '+4915100008201', account: `acc_rpr${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });

    const calls: Promise<{ data?: any; errors?: unknown }>[] = [];
    calls.push(svc.request(RECORD_USAGE, slow('a'))); // the pipeline is busy
    await pause(20);
    calls.push(svc.request(REPROCESS, { i: { lineId } })); // an operator rates the 5,500 MB
    await pause(20);
    calls.push(svc.request(RECORD_USAGE, slow('b'))); // more ingestion
    await pause(20);
    calls.push(svc.request(REPROCESS, { i: { lineId } })); // the same records, again (a second operator, or reprocessWaiting)
    await pause(20);
    // 3,000 MB more: 8,500 of the 10,240 MB bundle (83 %), crossing 80 %.
    calls.push(svc.request(RECORD_USAGE, { input: { source, records: [{ eventId: 'next', lineId, usageType: 'DATA', quantity: '3000', occurredAt: '2026-03-10T12:00:00Z' }] } }));
    const answers = await Promise.all(calls);
    for (const a of answers) expect(a.errors, JSON.stringify(a.errors)).toBeUndefined();
    expect(answers[1].data.reprocessRejected.rated + answers[3].data.reprocessRejected.rated).toBe(11);

    const thresholds = (await db.query(`select payload from outbox where subject = $1`, [EVENTS.usageThresholdReached.subject])).rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.lineId === lineId).map((d) => d.threshold).sort();
    const notifications = (await db.query(`select payload from outbox where subject = $1`, [EVENTS.usageNotificationRequested.subject])).rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.lineId === lineId).map((d) => d.template);
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-03-10T10:00:00Z") { allowances { allowanceId used } } } } }`);
    const data = usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data');
    expect({ thresholds, dataUsed: data.used, fullNotice: notifications.includes('DATA_100_PERCENT') }).toEqual({ thresholds: ['0.5', '0.8'], dataUsed: '8500', fullNotice: false });
  });

  it('a client that sends its batch again while the first send is in the pipeline: the events are counted once', async () => {
    const lineId = `lin_rtr${run}`;
    const source = `rtr-${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100008202', account: `acc_rtr${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
    const batch = { input: { source, records: Array.from({ length: 11 }, (_, i) => ({ eventId: `cdr-${i}`, lineId, usageType: 'DATA', quantity: '500', occurredAt: '2026-03-10T10:00:00Z' })) } };
    const calls: Promise<{ data?: any; errors?: unknown }>[] = [];
    calls.push(svc.request(RECORD_USAGE, slow('c')));
    await pause(20);
    calls.push(svc.request(RECORD_USAGE, batch)); // 5,500 MB
    await pause(20);
    calls.push(svc.request(RECORD_USAGE, slow('d')));
    await pause(20);
    calls.push(svc.request(RECORD_USAGE, batch)); // the client timed out and sends the batch again
    await pause(20);
    calls.push(svc.request(RECORD_USAGE, { input: { source, records: [{ eventId: 'next', lineId, usageType: 'DATA', quantity: '3000', occurredAt: '2026-03-10T12:00:00Z' }] } }));
    const answers = await Promise.all(calls);
    for (const a of answers) expect(a.errors, JSON.stringify(a.errors)).toBeUndefined();
    expect([answers[1].data.recordUsage.rated, answers[3].data.recordUsage.duplicates]).toEqual([11, 11]);

    const thresholds = (await db.query(`select payload from outbox where subject = $1`, [EVENTS.usageThresholdReached.subject])).rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.lineId === lineId).map((d) => d.threshold).sort();
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage(period: "2026-03-10T10:00:00Z") { allowances { allowanceId used } } } } }`);
    const data = usage.data._entities[0].usage.allowances.find((a: { allowanceId: string }) => a.allowanceId === 'data');
    expect({ thresholds, dataUsed: data.used }).toEqual({ thresholds: ['0.5', '0.8'], dataUsed: '8500' });
  });
});
