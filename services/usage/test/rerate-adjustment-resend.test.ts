/**
 * A re-rate adjustment whose ChargeRequest or ChargeResult is lost is re-sent by the charge
 * sweeper, with its own chargeId. Found in review: the sweeper re-sent records' charges only, and
 * an adjustment no ChargeResult settled kept its month's re-rates refused
 * (RERATE_ADJUSTMENTS_PENDING) for ever. Usage talks to the real wallets service (child process,
 * own schema) on a private nats-server, as wallets-contract.test.ts does; the usage service runs
 * its charge-result consumer and its sweeper (every 100 ms, on a manual clock that the test moves
 * past USAGE_CHARGE_RESEND_AFTER_MS, 60 s).
 *
 * Also here: the same sweeper prunes emitted_event (ids of the events emitted once per line and
 * period) after USAGE_EMITTED_EVENT_RETENTION_DAYS (default 400).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { dec, WORK_SUBJECTS, type ChargeResult } from '@ledgerline/contracts';
import { ManualClock, scrapeMetrics, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { emittedEventRetentionDays, sweepChargesCounted } from '../src/application/sweep-charges';
import { CHARGED_RECORDS, RECORD_USAGE, filePlanSource, planDocument, setLine, sqlOf, startWalletsProcess, waitFor, type WalletsProcess } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let wallets: WalletsProcess;
let listener: NatsConnection;
/** Every ChargeResult wallets published (also those JetStream dropped as duplicates), by chargeId. */
const answers = new Map<string, ChargeResult[]>();
let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date());
const run = Math.random().toString(36).slice(2, 8);

// A catalog correction (as in rerate.test.ts): world roaming data at 0.39 instead of 0.49 per MB.
const corrected = planDocument('postpaid-20gb.json') as { rules: { name: string; event: { params: Record<string, unknown> } }[] };
corrected.rules.find((r) => r.name === 'roaming-world-data')!.event.params.pricePerUnit = '0.3900';

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { chargeId previousPrice newPrice } } }`;

/** How many ledger transactions wallets holds for a chargeId (its idempotency key). */
const unbilledOf = async (walletId: string) => dec(await wallets.unbilledOf(walletId)).toString();
const ledgerTransactionsOf = async (chargeId: string) => Number((await db.query(`select count(*)::int as n from "${wallets.schema}".ledger_transaction where idempotency_key = $1`, [`CHARGE:${chargeId}`])).rows[0].n);
const adjustmentOf = async (chargeId: string) => (await db.query<{ status: string; amount_charged: string | null }>('select status, amount_charged from rerate_adjustment where charge_id = $1', [chargeId])).rows[0];
const resentOnMetrics = async () => (await scrapeMetrics(svc)).ledgerline_usage_rerate_adjustments_resent_total ?? 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  nats = await startPrivateNats();
  wallets = await startWalletsProcess(nats.url);
  listener = await connect({ servers: nats.url });
  // A plain subscription: it sees every answer wallets publishes, also one JetStream keeps out of the stream as a duplicate.
  listener.subscribe(WORK_SUBJECTS.chargeApplied, {
    callback: (_, msg) => {
      const body = msg.json<ChargeResult | ChargeResult[]>();
      for (const r of Array.isArray(body) ? body : [body]) answers.set(r.chargeId, [...(answers.get(r.chargeId) ?? []), r]);
    },
  });
  // The service reads its sweeper's settings from the environment when it starts.
  const before = process.env.USAGE_CHARGE_SWEEP_MS;
  process.env.USAGE_CHARGE_SWEEP_MS = '100';
  try {
    svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_fixed: corrected }), consumers: ['charges', 'sweeper'], deliverNew: true }), { env: { NATS_URL: nats.url }, clock });
  } finally {
    if (before === undefined) delete process.env.USAGE_CHARGE_SWEEP_MS;
    else process.env.USAGE_CHARGE_SWEEP_MS = before;
  }
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await listener?.close();
  await wallets?.stop();
  await nats?.stop();
});

/** A postpaid line that used 10 MB roaming in the US an hour ago (4.90 EUR), charged and settled APPLIED by wallets. */
async function chargedRoamingLine(tag: string, msisdn: string): Promise<{ lineId: string; account: string; walletId: string; recordId: string; period: string }> {
  const lineId = `lin_${tag}${run}`;
  const account = `acc_${tag}${run}`;
  const walletId = await wallets.postpaidWallet(account, lineId);
  await setLine(svc, { lineId, msisdn, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  const at = new Date(clock.now().getTime() - 3_600_000).toISOString();
  const res = await svc.request(RECORD_USAGE, { input: { source: `${tag}-${run}`, records: [{ eventId: 'us', lineId, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt: at }] } });
  expect(res.data.recordUsage.rated).toBe(1);
  const recordId = res.data.recordUsage.results[0].id as string;
  await waitFor(async () => (await db.query(`select charge_status from ${CHARGED_RECORDS} where id = $1`, [recordId])).rows[0]?.charge_status === 'APPLIED', 30_000, 'the charge applied');
  expect(await unbilledOf(walletId)).toBe('4.9');
  return { lineId, account, walletId, recordId, period: at.slice(0, 7) };
}

/** Re-rates the account's month with the corrected catalog: one credit of 1.00 EUR, sent while the outbox relay is stopped. */
async function creditWithRelayStopped(account: string, period: string): Promise<string> {
  await svc.runtime.relay.stop();
  const rerate = await svc.request(RERATE, { i: { billingAccountId: account, period, planVersionId: 'plv_fixed' } });
  expect(rerate.errors, JSON.stringify(rerate.errors)).toBeUndefined();
  const [credit] = rerate.data.rerate.adjustments;
  expect(credit).toMatchObject({ previousPrice: '4.9', newPrice: '3.9' });
  return credit.chargeId as string;
}

describe('re-rate adjustments the sweeper re-sends', () => {
  it('an adjustment whose ChargeRequest was lost is re-sent with its chargeId after the grace time, credited once, and the month can be re-rated again', async () => {
    const { account, walletId, recordId, period } = await chargedRoamingLine('ra', '+4915100008101');
    const chargeId = await creditWithRelayStopped(account, period);
    // The relay's publish went nowhere: the row is marked published, wallets never hears of the credit.
    expect((await db.query('update outbox set published_at = $2 where id = $1 and published_at is null', [chargeId, clock.now()])).rowCount).toBe(1);
    svc.runtime.relay.start();

    const blocked = await svc.request(RERATE, { i: { billingAccountId: account, period, planVersionId: 'plv_fixed' } });
    expect(blocked.errors?.[0]).toMatchObject({ extensions: { code: 'CONFLICT', reason: 'RERATE_ADJUSTMENTS_PENDING' } });
    // Within the grace time (many sweeper passes): not re-sent.
    await sleep(1000);
    expect(answers.get(chargeId)).toBeUndefined();
    expect((await adjustmentOf(chargeId))?.status).toBe('PENDING');
    expect(await resentOnMetrics()).toBe(0);

    // Past USAGE_CHARGE_RESEND_AFTER_MS: the sweeper re-sends it, wallets credits it, its result settles it.
    clock.advance(61_000);
    const [answer] = await waitFor(async () => answers.get(chargeId), 30_000, "wallets' answer to the re-sent credit");
    expect({ outcome: answer!.outcome, amountCharged: dec(answer!.amountCharged ?? '0').toString() }).toEqual({ outcome: 'APPLIED', amountCharged: '-1' });
    await waitFor(async () => (await adjustmentOf(chargeId))?.status === 'APPLIED', 15_000, 'the adjustment settled');
    expect(dec((await adjustmentOf(chargeId))!.amount_charged!).toString()).toBe('-1');
    expect(dec((await db.query('select amount_charged from usage_record where id = $1', [recordId])).rows[0].amount_charged).toString()).toBe('3.9');
    expect(await unbilledOf(walletId)).toBe('3.9');
    expect(await ledgerTransactionsOf(chargeId)).toBe(1);
    expect(await resentOnMetrics()).toBe(1);
    // Settled: never re-sent again, however long after.
    clock.advance(600_000);
    await sleep(500);
    expect(await resentOnMetrics()).toBe(1);
    expect(answers.get(chargeId)).toHaveLength(1);

    // The month is open again: back to the subscription's version (named: a plain re-rate keeps the correction), a charge of 1.00 through the outbox as usual.
    const back = await svc.request(RERATE, { i: { billingAccountId: account, period, planVersionId: 'plv_postpaid' } });
    expect(back.errors, JSON.stringify(back.errors)).toBeUndefined();
    const [charge] = back.data.rerate.adjustments;
    expect(charge).toMatchObject({ previousPrice: '3.9', newPrice: '4.9' });
    await waitFor(async () => (await adjustmentOf(charge.chargeId))?.status === 'APPLIED', 30_000, 'the second adjustment settled');
    expect(await unbilledOf(walletId)).toBe('4.9');
    expect(await resentOnMetrics()).toBe(1);
  });

  it('an adjustment re-sent before its late original arrives: wallets answers the original from its ledger, the wallet is credited once', async () => {
    const { account, walletId, period } = await chargedRoamingLine('rb', '+4915100008102');
    const before = await resentOnMetrics();
    const chargeId = await creditWithRelayStopped(account, period);
    // The outbox row waits (the relay is stopped): past the grace time the sweeper sends the request itself.
    clock.advance(61_000);
    await waitFor(async () => (await adjustmentOf(chargeId))?.status === 'APPLIED', 30_000, 'the re-sent adjustment settled');
    expect(await unbilledOf(walletId)).toBe('3.9');
    expect((await resentOnMetrics()) - before).toBe(1);
    // The relay comes back and publishes the original (its own message id): the same chargeId again.
    svc.runtime.relay.start();
    const both = await waitFor(async () => ((answers.get(chargeId)?.length ?? 0) >= 2 ? answers.get(chargeId) : undefined), 30_000, "wallets' answer to the late original");
    expect(both.map((a) => [a.outcome, dec(a.amountCharged ?? '0').toString()])).toEqual([['APPLIED', '-1'], ['APPLIED', '-1']]);
    expect(await unbilledOf(walletId)).toBe('3.9');
    expect(await ledgerTransactionsOf(chargeId)).toBe(1);
    expect((await adjustmentOf(chargeId))?.status).toBe('APPLIED');
  });
});

describe('emitted_event retention', () => {
  const ids = { old: `ev_old_${run}`, edge: `ev_edge_${run}`, fresh: `ev_fresh_${run}` };
  const daysAgo = (days: number) => new Date(clock.now().getTime() - days * 86_400_000);

  it("the sweeper deletes rows older than the retention (default 400 days) and keeps the newer ones", async () => {
    const prunedBefore = (await scrapeMetrics(svc)).ledgerline_usage_emitted_events_pruned_total ?? 0;
    await db.query('insert into emitted_event (id, created_at) values ($1, $2), ($3, $4), ($5, $6)', [ids.old, daysAgo(401), ids.edge, daysAgo(399), ids.fresh, daysAgo(1)]);
    await waitFor(async () => (await db.query('select 1 from emitted_event where id = $1', [ids.old])).rowCount === 0, 10_000, 'the 401-day-old row pruned');
    await sleep(300); // a few more passes
    const left = (await db.query('select id from emitted_event where id = any($1::text[]) order by id', [Object.values(ids)])).rows.map((r) => r.id);
    expect(left).toEqual([ids.edge, ids.fresh].sort());
    expect(((await scrapeMetrics(svc)).ledgerline_usage_emitted_events_pruned_total ?? 0) - prunedBefore).toBe(1);
  });

  it('the retention is configurable (USAGE_EMITTED_EVENT_RETENTION_DAYS; 0 keeps every row) and checked', async () => {
    const usage = usageRuntimeOf(svc.runtime);
    const noPublish = { ...usage, publishCharges: async () => undefined };
    await sweepChargesCounted(noPublish, clock.now(), { graceMs: 60_000, emittedEventRetentionDays: 0 });
    expect((await db.query('select id from emitted_event where id = any($1::text[])', [[ids.edge, ids.fresh]])).rowCount).toBe(2);
    await sweepChargesCounted(noPublish, clock.now(), { graceMs: 60_000, emittedEventRetentionDays: 30 });
    expect((await db.query('select id from emitted_event where id = any($1::text[])', [[ids.edge, ids.fresh]])).rows.map((r) => r.id)).toEqual([ids.fresh]);
    expect([emittedEventRetentionDays(undefined), emittedEventRetentionDays(''), emittedEventRetentionDays('30'), emittedEventRetentionDays('0')]).toEqual([400, 400, 30, 0]);
    for (const bad of ['a year', '-1', '1.5']) expect(() => emittedEventRetentionDays(bad)).toThrow(/USAGE_EMITTED_EVENT_RETENTION_DAYS/);
  });
});
