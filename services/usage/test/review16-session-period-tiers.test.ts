/**
 * Review 16: an online session on a plan whose price depends on the period's usage (prepaid-payg's
 * home data: GRADUATED by PERIOD, 0.01/MB for the first GB of the period, 0.005 up to 5 GB, then
 * 0.002). rateUnits (charging-session.ts) rates the units it asks wallets to hold with no period
 * usage (no periodUsage, allowanceUsedRatios or spendInPeriod in the context), so a session of a
 * line already past 5 GB is held - and committed - at the first tier's 0.01/MB: five times what
 * the same megabytes cost as an offline CDR at that moment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RPC, dec, type WalletCommitRequest, type WalletReserveRequest } from '@ledgerline/contracts';
import { startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let nc: NatsConnection;
let svc: TestService;
let db: pg.Client;
const reserves: WalletReserveRequest[] = [];
const priceOf = new Map<string, string>();
/** The reservation id each reserve request (`<session>#<n>`) was given. */
const reservationOf = new Map<string, string>();
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r16s${run}`;

const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit } }`;

beforeAll(async () => {
  nats = await startPrivateNats();
  const url = nats.url;
  nc = await waitFor(() => connect({ servers: url }).catch(() => undefined), 10_000, 'the private nats-server');
  let n = 0;
  nc.subscribe(RPC.walletReserve, {
    callback: (_, msg) => {
      const req = msg.json<WalletReserveRequest>();
      reserves.push(req);
      const id = `rsv_${++n}`;
      priceOf.set(id, req.pricePerUnit);
      reservationOf.set(req.requestId, id);
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: id, grantedUnit: { unit: req.unit, units: req.requestedUnits, unitsFromAllowances: '0', amount: dec(req.requestedUnits).times(req.pricePerUnit).toFixed(), currency: req.currency }, validityTime: 300 }));
    },
  });
  // Commits what is reported at the reservation's price (as wallets does for a request without `amount`).
  nc.subscribe(RPC.walletCommit, {
    callback: (_, msg) => {
      const req = msg.json<WalletCommitRequest>();
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: req.reservationId, status: 'COMMITTED', usedUnits: req.usedUnits, unitsFromAllowances: '0', amountCharged: dec(req.usedUnits).times(priceOf.get(req.reservationId) ?? '0').toFixed(6) }));
    },
  });
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['sessions'] }), { env: { NATS_URL: url } });
  db = await sqlOf(svc);
  const started = new Date(Date.now() - 2 * 86_400_000).toISOString();
  await setLine(svc, { lineId, msisdn: `+4915176${String(Date.now()).slice(-6)}`, account: `acc_r16s${run}`, planVersionId: 'plv_payg', paymentMode: 'PREPAID', startsAt: started, at: started });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await nc?.close();
  await nats?.stop();
});

describe('review16: an online session on a period-graduated price', () => {
  it('holds the units at the price the period has reached, as an offline event of that moment is rated', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const minuteAgo = new Date(Date.now() - 60_000).toISOString();
    // 6000 MB of home data this period: past the 5 GB tier.
    const first = await svc.request(RECORD_USAGE, { input: { source: `r16s-${run}`, records: [{ eventId: 'bulk', lineId, usageType: 'DATA', quantity: '6000', occurredAt: hourAgo }] } });
    expect(first.errors).toBeUndefined();
    expect(first.data.recordUsage.rated).toBe(1);
    // 100 MB more as an offline CDR: 0.002 per MB now.
    await svc.request(RECORD_USAGE, { input: { source: `r16s-${run}`, records: [{ eventId: 'more', lineId, usageType: 'DATA', quantity: '100', occurredAt: minuteAgo }] } });
    const offline = (await db.query(`select price, charged_units from usage_record where line_id = $1 and event_id = 'more'`, [lineId])).rows[0];
    const offlinePerMb = dec(offline.price).div(offline.charged_units).toString();

    const reply = await svc.request(SESSION, { i: { operation: 'RESERVE', sessionId: `s_r16_${run}`, lineId, usageType: 'DATA', requestedUnits: '100' } });
    expect(reply.errors, JSON.stringify(reply.errors)).toBeUndefined();
    expect(reply.data.chargingSession.resultCode).toBe('SUCCESS');
    const held = reserves.find((r) => r.lineId === lineId)!;
    expect({ offlinePerMb, sessionHeldPerMb: dec(held.pricePerUnit).toString() }).toEqual({ offlinePerMb: '0.002', sessionHeldPerMb: '0.002' });
  });

  it('the live spend the next event is rated on is what the stored records say was charged', async () => {
    const done = await svc.request(SESSION, { i: { operation: 'TERMINATE', sessionId: `s_r16_${run}`, invocationSequenceNumber: 1, usedUnits: '100' } });
    expect(done.errors, JSON.stringify(done.errors)).toBeUndefined();
    const next = await svc.request(RECORD_USAGE, { input: { source: `r16s-${run}`, records: [{ eventId: 'next', lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: new Date(Date.now() - 1000).toISOString() }] } });
    expect(next.data.recordUsage.rated).toBe(1);
    const { rows: [r] } = await db.query(`select rating from usage_record where line_id = $1 and event_id = 'next'`, [lineId]);
    const liveSpend = dec(JSON.parse(r.rating).facts.spendInPeriod).toString();
    const { rows: [stored] } = await db.query(`select sum(coalesce(amount_charged, spend))::text as s from usage_record where line_id = $1 and event_id <> 'next' and status = 'RATED'`, [lineId]);
    expect({ liveSpend, storedSpend: dec(stored.s).toString() }).toEqual({ liveSpend: dec(stored.s).toString(), storedSpend: dec(stored.s).toString() });
  });

  it('follows what the commit charged when the ledger charged otherwise than the rating estimate', async () => {
    const session = `s_r16b_${run}`;
    const reply = await svc.request(SESSION, { i: { operation: 'RESERVE', sessionId: session, lineId, usageType: 'DATA', requestedUnits: '100' } });
    expect(reply.data.chargingSession.resultCode).toBe('SUCCESS');
    // Wallets commits 0.003 per MB (its figures are the ledger's), where usage's rating of the interval estimates 0.002.
    priceOf.set(reservationOf.get(`${session}#0`)!, '0.003');
    const done = await svc.request(SESSION, { i: { operation: 'TERMINATE', sessionId: session, invocationSequenceNumber: 1, usedUnits: '100' } });
    expect(done.data.chargingSession.resultCode).toBe('SUCCESS');
    const { rows: [rec] } = await db.query(`select amount_charged::text as a, spend::text as s from usage_record where line_id = $1 and event_id = $2`, [lineId, session]);
    expect({ charged: dec(rec.a).toString(), estimate: dec(rec.s).toString() }).toEqual({ charged: '0.3', estimate: '0.2' });
    const next = await svc.request(RECORD_USAGE, { input: { source: `r16s-${run}`, records: [{ eventId: 'next2', lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: new Date(Date.now() - 500).toISOString() }] } });
    expect(next.data.recordUsage.rated).toBe(1);
    const { rows: [r] } = await db.query(`select rating from usage_record where line_id = $1 and event_id = 'next2'`, [lineId]);
    const liveSpend = dec(JSON.parse(r.rating).facts.spendInPeriod).toString();
    const { rows: [stored] } = await db.query(`select sum(coalesce(amount_charged, spend))::text as s from usage_record where line_id = $1 and event_id <> 'next2' and status = 'RATED'`, [lineId]);
    expect(liveSpend).toBe(dec(stored.s).toString());
  });
});
