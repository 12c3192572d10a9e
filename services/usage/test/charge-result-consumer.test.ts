/**
 * The ChargeResult consumer (`charges`, WORK_SUBJECTS.chargeApplied) must settle every
 * well-formed result it gets, whatever else shares its message or batch.
 *
 * Wallets writes the reason of a charge it refuses as `RATING_FAILED: <problem>` (apply-charges.ts),
 * e.g. `RATING_FAILED: pricePerUnit must be a non-negative decimal with at most 6 places` - 80
 * characters, and usage sends such charges (see wallets-contract.test.ts).
 * usage_record.charge_reason is varchar(64), and the whole batch is one `update … from unnest(…)`:
 * the statement fails, consumeBatches retries the same batch for ever and no ChargeResult is
 * applied any more (every charge stays PENDING, the sweeper re-sends them all, rerate is refused
 * with RERATE_CHARGES_PENDING). A result whose amount is not a number does the same.
 *
 * Runs on a private nats-server: the malformed messages must not reach other services' consumers
 * of the shared BILLING stream. ChargeRequests are read where wallets reads them (the
 * chargeRequested subject), charge statuses through GraphQL.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WORK_SUBJECTS, type ChargeRequest, type ChargeResult } from '@ledgerline/contracts';
import { ManualClock, scrapeMetrics, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let listener: NatsConnection;
/** Every ChargeRequest usage published, by chargeId. */
const requested = new Map<string, ChargeRequest>();
let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_cr${run}`;
const account = `acc_cr${run}`;

beforeAll(async () => {
  nats = await startPrivateNats();
  listener = await connect({ servers: nats.url });
  listener.subscribe(WORK_SUBJECTS.chargeRequested, {
    callback: (_, msg) => {
      const body = msg.json<ChargeRequest | ChargeRequest[]>();
      for (const c of Array.isArray(body) ? body : [body]) requested.set(c.chargeId, c);
    },
  });
});

// Each test gets a service of its own (own schema, own durable starting at new messages): a
// consumer one test jams cannot make another fail.
beforeEach(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['charges'], deliverNew: true }), {
    env: { NATS_URL: nats.url },
    clock: new ManualClock(new Date('2026-03-20T12:00:00Z')),
  });
  await setLine(svc, { lineId, msisdn: '+4915100007801', account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
});

afterEach(async () => {
  await svc?.close();
});

afterAll(async () => {
  await listener?.close();
  await nats?.stop();
});

/** What wallets publishes for a ChargeRequest (apply-charges.ts `result`). */
const resultOf = (c: ChargeRequest, outcome: ChargeResult['outcome'], amountCharged: string, reason?: string): ChargeResult => ({
  chargeId: c.chargeId, outcome, billingAccountId: c.billingAccountId, lineId: c.lineId, paymentMode: c.paymentMode, usageType: c.usageType, occurredAt: c.occurredAt,
  units: outcome === 'DENIED' ? '0' : c.units, unit: c.unit, unitsFromAllowances: '0', amountCharged, currency: c.currency, ...(reason ? { reason } : {}),
});

/** `n` text messages rated and charged: their ChargeRequests as published. */
async function sms(source: string, n: number): Promise<ChargeRequest[]> {
  const records = Array.from({ length: n }, (_, i) => ({ eventId: `e${i}`, lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: `2026-03-10T10:0${i}:00Z` }));
  const res = await svc.request(RECORD_USAGE, { input: { source, records } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(n);
  const ids: string[] = res.data.recordUsage.results.map((r: { id: string }) => r.id);
  return waitFor(async () => (ids.every((id) => requested.has(id)) ? ids.map((id) => requested.get(id)!) : undefined), 10_000, 'the ChargeRequests');
}

const statusOf = async (ids: string[]): Promise<Record<string, string>> => {
  const out: Record<string, string> = {};
  for (const id of ids) out[id] = (await svc.request(`query($id: ID!) { usageRecord(id: $id) { chargeStatus } }`, { id })).data.usageRecord.chargeStatus;
  return out;
};

/** The statuses once none is PENDING, or as they are after `ms`. */
const settled = (ids: string[], ms = 10_000) =>
  waitFor(async () => {
    const s = await statusOf(ids);
    return Object.values(s).every((v) => v !== 'PENDING') ? s : undefined;
  }, ms, 'the results to be applied').catch(() => statusOf(ids));

describe('ChargeResult consumer', () => {
  it('settles a DENIED result whose reason is as long as wallets writes it, and the APPLIED result beside it', async () => {
    const [denied, applied] = await sms(`cr-long-${run}`, 2);
    // Exactly the reason wallets gives a charge it cannot rate (invalidCharge), 80 characters.
    const reason = 'RATING_FAILED: pricePerUnit must be a non-negative decimal with at most 6 places';
    await svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify([resultOf(denied, 'DENIED', '0', reason), resultOf(applied, 'APPLIED', '0.09')]));
    expect(await settled([denied.chargeId, applied.chargeId])).toEqual({ [denied.chargeId]: 'DENIED', [applied.chargeId]: 'APPLIED' });
  });

  it('a result with a malformed amount does not stop the results after it from being applied', async () => {
    const [bad, good] = await sms(`cr-amount-${run}`, 2);
    const js = svc.runtime.messaging.js;
    await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(resultOf(bad, 'APPLIED', 'n/a')));
    await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(resultOf(good, 'APPLIED', '0.09')));
    expect((await settled([good.chargeId]))[good.chargeId]).toBe('APPLIED');
    expect((await statusOf([bad.chargeId]))[bad.chargeId]).toBe('PENDING');
    expect((await scrapeMetrics(svc))['ledgerline_usage_charge_results_dropped_total{reason="invalid"}']).toBe(1);
  });

  it('a result wallets REJECTED (its chargeId used for another charge) is counted as refused, not as malformed; the record waits and the results beside it are applied', async () => {
    const [refused, good] = await sms(`cr-refused-${run}`, 2);
    const before = (await scrapeMetrics(svc))['ledgerline_usage_charge_results_dropped_total{reason="invalid"}'] ?? 0;
    const conflict = `CHARGE_ID_CONFLICT: chargeId ${refused.chargeId} was already used for another charge; use a new chargeId for a new charge`;
    await svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify([resultOf(refused, 'REJECTED', '0', conflict), resultOf(good, 'APPLIED', '0.09')]));
    expect((await settled([good.chargeId]))[good.chargeId]).toBe('APPLIED');
    expect((await statusOf([refused.chargeId]))[refused.chargeId]).toBe('PENDING');
    const metrics = await scrapeMetrics(svc);
    expect(metrics['ledgerline_usage_charge_results_dropped_total{reason="refused"}']).toBe(1);
    expect(metrics['ledgerline_usage_charge_results_dropped_total{reason="invalid"}'] ?? 0).toBe(before);
  });

  it('a message the database refuses (a NUL in its reason) is dropped alone and counted; the results of its batch are applied, its record waits for the sweeper', async () => {
    const [bad, good, other] = await sms(`cr-nul-${run}`, 3);
    // One batch of three messages: the consumer writes them with one statement, which PostgreSQL refuses (no NUL in text).
    const js = svc.runtime.messaging.js;
    await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(resultOf(good, 'APPLIED', '0.09')));
    await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(resultOf(bad, 'DENIED', '0', 'WALLET\u0000INSUFFICIENT')));
    await js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(resultOf(other, 'APPLIED', '0.09')));
    expect(await settled([good.chargeId, other.chargeId])).toEqual({ [good.chargeId]: 'APPLIED', [other.chargeId]: 'APPLIED' });
    await waitFor(async () => ((await scrapeMetrics(svc))['ledgerline_usage_charge_results_dropped_total{reason="unstorable"}'] === 1 ? true : undefined), 10_000, 'the dropped message counted');
    expect((await statusOf([bad.chargeId]))[bad.chargeId]).toBe('PENDING');
  });
});
