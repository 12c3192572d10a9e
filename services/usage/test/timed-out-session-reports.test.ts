/**
 * Reports that reach an online charging session after it was closed TIMED_OUT (found in review;
 * the first two tests fail on the old code, the third shows retransmissions still work). A session
 * silent for USAGE_SESSION_IDLE_MS is closed by closeStaleSessions and its reservation released; a
 * report that still comes is charged as usage, a record `<session>#<n>:unreserved`. The old code wrote that record and answered SUCCESS without
 * keeping the number on the session row, and usage records a session writes itself have no
 * fingerprint (a repeat is a duplicate whatever its content). So two different reports with one
 * invocationSequenceNumber (an UPDATE and a TERMINATE, or two UPDATEs with other units) were both
 * answered SUCCESS and the second one's units dropped as a duplicate of the first's record: used,
 * confirmed to the network, never charged.
 *
 * Now a late report claims its number on the session row first, with its fingerprint (ADR 0014, as
 * for an OPEN session): a retransmission (same content) gets the stored reply and charges nothing
 * again; another report with that number is refused RATING_FAILED and charges nothing, so every
 * report answered SUCCESS is charged once and one refused is not charged at all.
 *
 * Runs against a stand-in for wallets' reserve/commit responders on a private nats-server (as
 * charging-session.test.ts does); requests go over NATS (ocs.usage.session), as a network element
 * sends them, so the refusal's message can be read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { RPC, dec, type WalletCommitRequest, type WalletReserveRequest } from '@ledgerline/contracts';
import { startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { closeStaleSessions, type ChargingSessionRequest } from '../src/application/charging-session';
import { askChargingSession, filePlanSource, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let nc: NatsConnection;
let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_tos${run}`;
const IDLE_MS = 15 * 60_000;

beforeAll(async () => {
  nats = await startPrivateNats();
  nc = await waitFor(() => connect({ servers: nats.url }).catch(() => undefined), 10_000, 'the private nats-server');
  // Stand-in wallets: grants what is asked, commits what is reported (a release commits 0).
  let n = 0;
  nc.subscribe(RPC.walletReserve, {
    callback: (_, msg) => {
      const req = msg.json<WalletReserveRequest>();
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: `rsv_${run}_${++n}`, grantedUnit: { unit: req.unit, units: req.requestedUnits, unitsFromAllowances: req.requestedUnits, amount: '0', currency: req.currency }, validityTime: 300 }));
    },
  });
  nc.subscribe(RPC.walletCommit, {
    callback: (_, msg) => {
      const req = msg.json<WalletCommitRequest>();
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: req.reservationId, status: 'COMMITTED', usedUnits: req.usedUnits, unitsFromAllowances: req.usedUnits, amountCharged: '0' }));
    },
  });
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['sessions'] }), { env: { NATS_URL: nats.url } });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100007301', account: `acc_tos${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await nc?.close();
  await nats?.stop();
});

const ask = (sessionId: string, req: Omit<ChargingSessionRequest, 'sessionId'>) => askChargingSession(nc, sessionId, req);

/** A session of its own that reserved, reported 60 MB (number 1), then went silent and was closed TIMED_OUT. */
async function timedOutSession(name: string): Promise<string> {
  const sessionId = `gy-${name}-${run}`;
  expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS' });
  expect(await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS' });
  await db.query(`update charging_session set updated_at = updated_at - interval '1 hour' where id = $1`, [sessionId]);
  expect(await closeStaleSessions(usageRuntimeOf(svc.runtime), nc, new Date(), IDLE_MS)).toBeGreaterThanOrEqual(1);
  expect((await db.query(`select state from charging_session where id = $1`, [sessionId])).rows).toEqual([{ state: 'TIMED_OUT' }]);
  return sessionId;
}

/** The session's usage records past its first report: event id → units. */
async function lateRecords(sessionId: string): Promise<Record<string, string>> {
  const { rows } = await db.query<{ event_id: string; quantity: string }>(
    `select event_id, quantity::text from usage_record where source = 'ocs' and event_id like $1 and event_id <> $2 order by event_id`,
    [`${sessionId}#%`, `${sessionId}#1`],
  );
  return Object.fromEntries(rows.map((r) => [r.event_id, dec(r.quantity).toFixed()]));
}

const unitsOf = (records: Record<string, string>): string => Object.values(records).reduce((sum, q) => sum.plus(q), dec('0')).toFixed();

describe('reports after a session was closed TIMED_OUT', () => {
  it('a second, different report with the same number is refused, not answered SUCCESS with its units dropped', async () => {
    const sessionId = await timedOutSession('reuse');
    const update = await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '10', requestedUnits: '40' });
    expect(update).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    // The network element reports its last 25 MB under the same number.
    const terminate = await ask(sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '25' });
    // Every report answered SUCCESS is charged: the units confirmed to the network are the units charged.
    const confirmed = dec(update.resultCode === 'SUCCESS' ? '10' : '0').plus(terminate.resultCode === 'SUCCESS' ? '25' : '0').toFixed();
    expect(unitsOf(await lateRecords(sessionId)), 'units charged for the late reports answered SUCCESS').toBe(confirmed);
    expect(terminate).toMatchObject({ resultCode: 'RATING_FAILED', finalUnitIndication: true, message: expect.stringContaining('invocationSequenceNumber 2') });
    // The first report, sent again, is answered as before and charged once.
    expect(await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '10', requestedUnits: '40' })).toEqual(update);
    expect(await lateRecords(sessionId)).toEqual({ [`${sessionId}#2:unreserved`]: '10' });
    // The next number is a report of its own: charged.
    expect(await ask(sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 3, usedUnits: '25' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await lateRecords(sessionId)).toEqual({ [`${sessionId}#2:unreserved`]: '10', [`${sessionId}#3:unreserved`]: '25' });
  });

  it('two different reports with one number at the same time: one is answered SUCCESS and charged, the other refused and not charged', async () => {
    const sessionId = await timedOutSession('race');
    const a = { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '7', requestedUnits: '10' };
    const b = { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '30', requestedUnits: '10' };
    const replies = await Promise.all([ask(sessionId, a), ask(sessionId, b)]);
    const charged = Object.values(await lateRecords(sessionId));
    const answeredSuccess = [a, b].filter((_, i) => replies[i]!.resultCode === 'SUCCESS').map((r) => r.usedUnits);
    expect(charged, `answered ${replies.map((r) => r.resultCode).join(' and ')}`).toEqual(answeredSuccess);
    expect(replies.map((r) => r.resultCode).sort()).toEqual(['RATING_FAILED', 'SUCCESS']);
  });

  it('a retransmission (same report, a moment later, also at the same time as the first) is answered alike and charged once', async () => {
    const sessionId = await timedOutSession('retry');
    const report = { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '12' };
    const [first, twin] = await Promise.all([ask(sessionId, report), ask(sessionId, report)]);
    expect(first).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(twin).toEqual(first);
    await new Promise((r) => setTimeout(r, 20));
    expect(await ask(sessionId, report)).toEqual(first);
    expect(await lateRecords(sessionId)).toEqual({ [`${sessionId}#2:unreserved`]: '12' });
    // A number before the last one handled is out of turn (as for an OPEN session): refused, nothing charged.
    expect(await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '5', requestedUnits: '0' })).toMatchObject({ resultCode: 'RATING_FAILED' });
    expect(await lateRecords(sessionId)).toEqual({ [`${sessionId}#2:unreserved`]: '12' });
  });
});
