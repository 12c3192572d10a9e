/**
 * Live counters dropped while a batch of the same line is still being written are reloaded only
 * once that write has committed.
 *
 * The pipeline rates batch k+1 while batch k is written (persist is outside the rating queue; the
 * in-memory counters already hold batch k). Several paths drop a line's counters so that the next
 * batch loads them again from usage_record: a ChargeResult whose ledger figures differ from the
 * estimate (`invalidateCounters`, from the `charges` consumer), bundle.renewed, a write that found
 * a duplicate, a failed write, the clear when too many counters are held. Reloaded before batch k
 * commits, the counters would miss batch k: the next batch rated as if the bundle were 34 % used
 * while 83 % is (the 80 % crossing, usageThresholdReached, and the plan's notify rules lost), and a
 * price on the period's volume (the enterprise plan's GRADUATED data price, basis PERIOD) charged
 * at the lower-volume tier. The drop waits for the writes in flight (`dropAfterWrites`); rating
 * beside the writes stays when nothing is dropped.
 *
 * Here batch k's COMMIT is held (as a slow disk or a busy PostgreSQL does under load) while a
 * ChargeResult with other figures than the estimate arrives. Runs on a private nats-server so the
 * ChargeResult reaches only this test's consumer. Fails on a pipeline that drops the counters
 * without waiting for the writes in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { EVENTS, WORK_SUBJECTS, type ChargeResult } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { CHARGED_RECORDS, RECORD_USAGE, commitHolder, filePlanSource, planDocument, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_ri${run}`;
const account = `acc_ri${run}`;
const source = `ri-${run}`;
/** A fleet line on the enterprise plan: DATA priced GRADUATED over the period's volume (0.005 USD/MB to 102,400 MB, then 0.003). */
const fleetLine = `lin_rf${run}`;

/** Holds the next pipeline transaction at its COMMIT (see commitHolder). */
let holdNextCommit: ReturnType<typeof commitHolder>['holdNextCommit'];

beforeAll(async () => {
  nats = await startPrivateNats();
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_enterprise: planDocument('enterprise-committed-spend-usd.json') }), consumers: ['charges'], deliverNew: true }), {
    env: { NATS_URL: nats.url },
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100009501', account, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
  await setLine(svc, { lineId: fleetLine, msisdn: '+4915100009502', account: `acc_rf${run}`, planVersionId: 'plv_enterprise', paymentMode: 'POSTPAID' });

  ({ holdNextCommit } = commitHolder(svc));
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await nats?.stop();
});

const data = (eventId: string, quantity: string, occurredAt: string, line = lineId) => ({ input: { source, records: [{ eventId, lineId: line, usageType: 'DATA', quantity, occurredAt }] } });

describe('counters reloaded while a write of the line is in flight', () => {
  it('a ChargeResult that differs from the estimate, applied while a batch is written, does not lose that batch from the counters', async () => {
    // 1,000 MB of the 10,240 MB bundle, charged.
    const first = await svc.request(RECORD_USAGE, data('e0', '1000', '2026-03-10T09:00:00Z'));
    expect(first.data?.recordUsage.rated, JSON.stringify(first)).toBe(1);
    const e0 = first.data.recordUsage.results[0].id as string;

    // 5,000 MB more (5,990 after the ledger's figures below: 58 %): its write is slow to commit.
    const { held, release } = holdNextCommit();
    const slow = svc.request(RECORD_USAGE, data('e1', '5000', '2026-03-10T10:00:00Z'));
    await held;

    // Meanwhile wallets answers e0's charge with figures other than the estimate (990 MB from the bucket, 10 MB paid).
    const result: ChargeResult = {
      chargeId: e0, outcome: 'APPLIED', billingAccountId: account, lineId, paymentMode: 'PREPAID', usageType: 'DATA', occurredAt: '2026-03-10T09:00:00.000Z',
      units: '1000', unit: 'MB', unitsFromAllowances: '990', amountCharged: '0.10', currency: 'EUR',
    };
    await svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(result));
    await waitFor(async () => ((await db.query(`select charge_status from ${CHARGED_RECORDS} where id = $1`, [e0])).rows[0]?.charge_status === 'APPLIED' ? true : undefined), 10_000, "e0's result applied");
    await new Promise((r) => setTimeout(r, 200));

    // 2,500 MB more while e1 is still being written: 8,490 MB (83 %), crossing 80 %. (Not awaited
    // before e1's commit is let go: a pipeline that waits for the write in flight must not hang here.)
    const next = svc.request(RECORD_USAGE, data('e2', '2500', '2026-03-10T11:00:00Z'));
    await new Promise((r) => setTimeout(r, 500));
    release();
    expect((await slow).data?.recordUsage.rated).toBe(1);
    const e2 = await next;
    expect(e2.data?.recordUsage.rated, JSON.stringify(e2)).toBe(1);

    // And one more event: the plan's notify rule reads the counters' ratio (83 %: the 80 % band).
    const after = await svc.request(RECORD_USAGE, data('e3', '100', '2026-03-10T12:00:00Z'));
    expect(after.data?.recordUsage.rated, JSON.stringify(after)).toBe(1);

    const events = async (subject: string) => (await db.query('select payload from outbox where subject = $1', [subject])).rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.lineId === lineId);
    const thresholds = (await events(EVENTS.usageThresholdReached.subject)).map((d) => d.threshold).sort();
    const notices = (await events(EVENTS.usageNotificationRequested.subject)).map((d) => d.template).sort();
    const ratingRatio = (await db.query(`select rating from usage_record where line_id = $1 and event_id = 'e3'`, [lineId])).rows[0].rating;
    expect({ thresholds, notices, e3RatedAtRatio: JSON.parse(ratingRatio).facts.allowanceUsedRatio }).toEqual({
      thresholds: ['0.5', '0.8'],
      notices: ['DATA_50_PERCENT', 'DATA_80_PERCENT'],
      e3RatedAtRatio: expect.stringMatching(/^0\.8[23]\d*$/), // 8,490 (ledger figures) or 8,500 MB of 10,240
    });
  });

  it('a period-graduated price is not charged at the lower-volume tier because the in-flight batch was left out of the period volume', async () => {
    const first = await svc.request(RECORD_USAGE, data('f0', '50000', '2026-03-10T09:00:00Z', fleetLine)); // 250.00 USD
    expect(first.data?.recordUsage.rated, JSON.stringify(first)).toBe(1);
    const f0 = first.data.recordUsage.results[0].id as string;

    // 60,000 MB more (110,000 in the period): slow to commit.
    const { held, release } = holdNextCommit();
    const slow = svc.request(RECORD_USAGE, data('f1', '60000', '2026-03-10T10:00:00Z', fleetLine));
    await held;
    // Wallets answers f0 with other figures than the estimate (cut short at the account's limit).
    const result: ChargeResult = {
      chargeId: f0, outcome: 'PARTIAL', billingAccountId: `acc_rf${run}`, lineId: fleetLine, paymentMode: 'POSTPAID', usageType: 'DATA', occurredAt: '2026-03-10T09:00:00.000Z',
      units: '40000', unit: 'MB', unitsFromAllowances: '0', amountCharged: '200.000000', currency: 'USD', reason: 'CREDIT_LIMIT_REACHED',
    };
    await svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(result));
    await waitFor(async () => ((await db.query(`select charge_status from ${CHARGED_RECORDS} where id = $1`, [f0])).rows[0]?.charge_status === 'PARTIAL' ? true : undefined), 10_000, "f0's result applied");
    await new Promise((r) => setTimeout(r, 200));

    // 100,000 MB more while f1 is written: all of it in the 102,400-512,000 MB tier (0.003 USD/MB) = 300.00 USD.
    const next = svc.request(RECORD_USAGE, data('f2', '100000', '2026-03-10T11:00:00Z', fleetLine));
    await new Promise((r) => setTimeout(r, 500));
    release();
    expect((await slow).data?.recordUsage.rated).toBe(1);
    expect((await next).data?.recordUsage.rated).toBe(1);

    // What the ledger is asked to take for f2 (ChargeRequest.amount, the rated price).
    const { rows: [f2] } = await db.query(`select price::numeric::text as price, (charge::json ->> 'amount') as charged from usage_record where line_id = $1 and event_id = 'f2'`, [fleetLine]);
    expect({ price: Number(f2.price), charged: Number(f2.charged) }).toEqual({ price: 300, charged: 300 });
  });
});
