/**
 * Usage that came just before its line is rated once the line is known, also when its write
 * commits after the line's events were applied.
 *
 * Usage for a line usage does not know yet is stored REJECTED LINE_UNKNOWN (a WAITING_CODE) and
 * rated again by `reprocessWaiting` when the `subscribers` consumer has applied an event about that
 * line. A batch rated before the event but committed after the waiting records were looked for
 * would never be retried (no other event about the line may come for months): the line's first
 * calls would stay REJECTED "line unknown" and never be charged. Under load the window is a whole
 * batch write (the pipeline rates batch k+1 while batch k is written), and a new line's first CDRs
 * arrive with its activation. `reprocessWaiting` looks once the batches rated so far are written
 * (`pipeline.writesSettled()`).
 *
 * Here the batch's COMMIT is held (as a busy PostgreSQL does) while the line's events are applied.
 * Runs on a private nats-server. Fails when the look-up does not wait for the writes in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, EVENTS, type LineStateData, type SubscriptionData } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, commitHolder, filePlanSource, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_wr${run}`;
const account = `acc_wr${run}`;
const msisdn = '+4915100009901';

/** Holds the next pipeline transaction at its COMMIT (see commitHolder). */
let holdNextCommit: ReturnType<typeof commitHolder>['holdNextCommit'];

async function publishEvent(name: 'lineStateChanged' | 'subscriptionCreated', data: LineStateData | SubscriptionData, time: string, key: string) {
  const e = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS[name].type, subject: data.lineId, time: new Date(time), data, key: [key] });
  await svc.runtime.messaging.js.publish(EVENTS[name].subject, JSON.stringify(e), { msgID: e.id });
}

beforeAll(async () => {
  nats = await startPrivateNats();
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['subscribers'], deliverNew: true }), {
    env: { NATS_URL: nats.url },
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  db = await sqlOf(svc);
  ({ holdNextCommit } = commitHolder(svc));
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await nats?.stop();
});

describe('usage that came just before its line', () => {
  it('is rated once the line is known, also when its write commits after the line events were applied', async () => {
    // The line's first call reaches usage before its activation events; its write is slow to commit.
    const { held: atCommit, release } = holdNextCommit();
    const first = svc.request(RECORD_USAGE, { input: { source: `wr-${run}`, records: [{ eventId: 'first-call', lineId, usageType: 'VOICE', quantity: '60', calledNumber: '+4930123456', occurredAt: '2026-03-10T10:05:00Z' }] } });
    await atCommit;

    // Meanwhile subscribers' events provision the line (activated at 10:00) and are applied.
    await publishEvent('lineStateChanged', { lineId, msisdn, billingAccountId: account, status: 'ACTIVE' }, '2026-03-10T10:00:00Z', `${run}-l`);
    await publishEvent('subscriptionCreated', { subscriptionId: `sub_${run}`, lineId, msisdn, billingAccountId: account, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid', status: 'ACTIVE', startsAt: '2026-03-10T10:00:00Z', endsAt: null, addOns: [] }, '2026-03-10T10:00:00Z', `${run}-s`);
    // (Only the line's row is waited for: a consumer that waits for the write in flight before it
    // looks for waiting usage must not hang the test.)
    await waitFor(async () => ((await db.query('select 1 from line_state where line_id = $1', [lineId])).rowCount ? true : undefined), 10_000, 'the line event applied');
    await new Promise((r) => setTimeout(r, 1000));

    release();
    const answer = await first;
    expect(answer.data?.recordUsage.results[0].rejectionCode, JSON.stringify(answer)).toBe('LINE_UNKNOWN');

    // No one calls reprocessRejected: the line is known, the call is rated.
    const status = await waitFor(async () => {
      const row = (await db.query(`select status, rejection_code from usage_record where line_id = $1 and event_id = 'first-call'`, [lineId])).rows[0];
      return row?.status === 'RATED' ? row : undefined;
    }, 5_000, 'the call to be rated').catch(async () => (await db.query(`select status, rejection_code from usage_record where line_id = $1 and event_id = 'first-call'`, [lineId])).rows[0]);
    expect(status).toEqual({ status: 'RATED', rejection_code: null });
  });
});
