/**
 * The re-rate's replay order (rerate-period.ts REPLAY_ORDER), beside review7-rerate-late-event-order:
 * a re-rate with the same catalog must change nothing, so the replay draws each bundle in the order
 * wallets drew it, i.e. the order the records were rated in.
 * - A record rejected on receipt (its line not known yet) and rated by reprocessRejected a week later
 *   keeps its first received_at, but was rated and charged at the reprocess: replayed by received_at
 *   it took the bundle from the records rated before it (a credit on it, a charge on them).
 * - Records of one batch share received_at and were rated in the order the batch gave them, which
 *   is not stored: replayed in event time, a batch whose events came out of time order moved the
 *   bundle between them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec } from '@ledgerline/contracts';
import { ManualClock, type TestService } from '@ledgerline/platform';
import { RECORD_USAGE, RERATE, correctedPlan, setLine, settleCharges, startUsage } from './support';

// Postpaid correction: home data overage at 0.8 instead of 1 cent per MB for a session's first GB.
const postpaidFix = correctedPlan('postpaid-20gb.json', 'data-allowance', (params) => (params.priceTable.tiers[0].unitPrice = '0.0080'));

let svc: TestService;
let db: pg.Client;
let close: () => Promise<void>;
const clock = new ManualClock(new Date('2026-03-10T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);
const REPROCESS = `mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected } }`;

async function drawn(lineId: string): Promise<[string, string, boolean][]> {
  const { rows } = await db.query(`select event_id, from_allowance::text as a, spend::text as s from usage_record where line_id = $1 order by event_id`, [lineId]);
  return rows.map((r) => [r.event_id, dec(r.a).toString(), dec(r.s).gt(0)]);
}

beforeAll(async () => {
  ({ svc, db, close } = await startUsage(clock, { plv_postpaid_fix: postpaidFix }));
});
afterAll(() => close?.());

describe('rerate with the same catalog', () => {
  it('replays a reprocessed record where it was rated (at the reprocess), not where it was received', async () => {
    const lineId = `lin_rro${run}`;
    const account = `acc_rro${run}`;
    // 10 March: a CDR for a line usage does not know yet.
    clock.set('2026-03-10T12:00:00Z');
    let res = await svc.request(RECORD_USAGE, { input: { source: `rro-${run}`, records: [{ eventId: 'held', lineId, usageType: 'DATA', quantity: '100', occurredAt: '2026-03-10T11:00:00Z' }] } });
    expect(res.data.recordUsage.results[0]).toMatchObject({ status: 'REJECTED', rejectionCode: 'LINE_UNKNOWN' });
    const held = res.data.recordUsage.results[0].id;
    // 12 March: the line is provisioned (20 GB postpaid bundle from 1 March); its usage takes the whole bundle.
    clock.set('2026-03-12T12:00:00Z');
    await setLine(svc, { lineId, msisdn: '+4915100007791', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-03-01T00:00:00Z', at: '2026-03-01T00:00:00Z' });
    res = await svc.request(RECORD_USAGE, { input: { source: `rro-${run}`, records: [{ eventId: 'bundle', lineId, usageType: 'DATA', quantity: '20480', occurredAt: '2026-03-11T10:00:00Z' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    // 18 March: the held CDR is reprocessed, rated and charged then: overage.
    clock.set('2026-03-18T09:00:00Z');
    const again = await svc.request(REPROCESS, { i: { ids: [held] } });
    expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
    expect(again.data.reprocessRejected).toEqual({ rated: 1, stillRejected: 0 });
    expect(await drawn(lineId)).toEqual([['bundle', '20480', false], ['held', '0', true]]);
    expect(await settleCharges(db, [lineId])).toBe(2);

    clock.set('2026-04-05T12:00:00Z');
    const same = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });

  it('replays the records of one batch so each bundle is drawn as it was, whatever their event times', async () => {
    const lineId = `lin_rrt${run}`;
    const account = `acc_rrt${run}`;
    clock.set('2026-03-12T12:00:00Z');
    await setLine(svc, { lineId, msisdn: '+4915100007792', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-03-01T00:00:00Z', at: '2026-03-01T00:00:00Z' });
    // One batch, out of event-time order (a long session's CDR closes after a short one that started
    // later): rated as given, the first takes 20,000 MB of the 20 GB, the second what is left and overage.
    // A voice call in between draws on another bundle.
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: `rrt-${run}`,
        records: [
          { eventId: 'a-long-session', lineId, usageType: 'DATA', quantity: '20000', occurredAt: '2026-03-10T10:00:00Z' },
          { eventId: 'b-call', lineId, usageType: 'VOICE', quantity: '60', occurredAt: '2026-03-07T10:00:00Z', calledNumber: '+4930123456' },
          { eventId: 'c-short-session', lineId, usageType: 'DATA', quantity: '1000', occurredAt: '2026-03-05T10:00:00Z' },
        ],
      },
    });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    expect(res.data.recordUsage.rated).toBe(3);
    expect(await drawn(lineId)).toEqual([['a-long-session', '20000', false], ['b-call', '60', false], ['c-short-session', '480', true]]);
    expect(await settleCharges(db, [lineId])).toBe(3);

    clock.set('2026-04-05T12:00:00Z');
    const same = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });

    // A corrected overage price re-prices the overage the ledger charged (520 MB of the short session),
    // and only it: the bundle stays where wallets drew it. (The long session's record is rewritten
    // too, no money moved: its price as if no allowance applied is the corrected one.)
    const fixed = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_postpaid_fix' } });
    expect(fixed.errors, JSON.stringify(fixed.errors)).toBeUndefined();
    const short = (await db.query(`select id from usage_record where line_id = $1 and event_id = 'c-short-session'`, [lineId])).rows[0].id;
    expect(fixed.data.rerate).toEqual({ recordsRerated: 2, adjustments: [{ usageRecordId: short, previousPrice: '5.2', newPrice: '4.16' }] });
  });
});
