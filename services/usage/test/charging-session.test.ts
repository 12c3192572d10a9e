/**
 * Online charging against a stand-in for wallets' reserve/commit responders (the real ones live
 * in services/wallets). It runs on a private nats-server so no other service's responder answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RPC, type WalletCommitRequest, type WalletReserveRequest } from '@ledgerline/contracts';
import { scrapeMetrics, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { closeStaleSessions } from '../src/application/charging-session';
import { CHARGED_RECORDS, filePlanSource, setLine, sqlOf, storedChargeRequests, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let nc: NatsConnection;
let svc: TestService;
let db: pg.Client;
const reserves: WalletReserveRequest[] = [];
const commits: WalletCommitRequest[] = [];
/** Reservations the stand-in treats as expired (as wallets answers a commit after the expiry job released one). */
const expired = new Set<string>();

const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit validityTime finalUnitIndication usageRecordId } }`;

beforeAll(async () => {
  // Its own nats-server: stopped (and its store removed once it has exited) after the suite.
  nats = await startPrivateNats();
  const url = nats.url;
  nc = await waitFor(() => connect({ servers: url }).catch(() => undefined), 10_000, 'the private nats-server');
  // Stand-in wallets: grants up to 100 units per reserve, commits whatever is reported.
  let n = 0;
  nc.subscribe(RPC.walletReserve, {
    callback: (_, msg) => {
      const req = msg.json<WalletReserveRequest>();
      reserves.push(req);
      const units = Math.min(Number(req.requestedUnits), 100).toString();
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: `rsv_${++n}`, grantedUnit: { unit: req.unit, units, unitsFromAllowances: units, amount: '0', currency: req.currency }, validityTime: 300 }));
    },
  });
  nc.subscribe(RPC.walletCommit, {
    callback: (_, msg) => {
      const req = msg.json<WalletCommitRequest>();
      commits.push(req);
      if (expired.has(req.reservationId)) msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: req.reservationId, status: 'EXPIRED', usedUnits: '0', amountCharged: '0' }));
      else msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: req.reservationId, status: 'COMMITTED', usedUnits: req.usedUnits, unitsFromAllowances: req.usedUnits, amountCharged: '0.000000' }));
    },
  });
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['sessions'] }), { env: { NATS_URL: url } });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: 'lin_ocs', msisdn: '+4915100000099', account: 'acc_ocs', planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
  await setLine(svc, { lineId: 'lin_ocs_s', msisdn: '+4915100000098', account: 'acc_ocs_s', planVersionId: 'plv_prepaid', paymentMode: 'PREPAID', status: 'SUSPENDED' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await nc?.close();
  await nats?.stop();
});

describe('online charging session', () => {
  it('reserve → update → terminate over GraphQL reserves in wallets and stores one record, charged through the reservation', async () => {
    const reserve = await svc.request(SESSION, { i: { operation: 'RESERVE', sessionId: 'gy-1', invocationSequenceNumber: 0, lineId: 'lin_ocs', usageType: 'DATA', requestedUnits: '150' } });
    expect(reserve.data.chargingSession).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '100', validityTime: 300, finalUnitIndication: false });
    expect(reserves[0]).toMatchObject({ requestId: 'gy-1#0', billingAccountId: 'acc_ocs', lineId: 'lin_ocs', unit: 'MB', requestedUnits: '150', allowanceIds: ['data'], pricePerUnit: '0.02', allowOverdraft: false });
    const update = await svc.request(SESSION, { i: { operation: 'UPDATE', sessionId: 'gy-1', invocationSequenceNumber: 1, usedUnits: '100', requestedUnits: '50' } });
    expect(update.data.chargingSession).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '50' });
    const end = await svc.request(SESSION, { i: { operation: 'TERMINATE', sessionId: 'gy-1', invocationSequenceNumber: 2, usedUnits: '30' } });
    expect(end.data.chargingSession).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(commits.map((c) => [c.reservationId, c.usedUnits])).toEqual([['rsv_1', '100'], ['rsv_2', '30']]);
    // Each commit's units are a record of their own (the update's as it happens, the closing one at the end), with what
    // the commit took (all from the data allowance), as a ChargeResult would put it.
    const recs = (await db.query(`select id, event_id, quantity::float8 as q, status, charge_status, units_from_allowances::float8 as from_allowances, amount_charged::float8 as amount from ${CHARGED_RECORDS} where source = 'ocs' and event_id like 'gy-1%' order by event_id`)).rows;
    expect(recs.map(({ id: _, ...r }) => r)).toEqual([
      { event_id: 'gy-1', q: 30, status: 'RATED', charge_status: 'APPLIED', from_allowances: 30, amount: 0 },
      { event_id: 'gy-1#1', q: 100, status: 'RATED', charge_status: 'APPLIED', from_allowances: 100, amount: 0 },
    ]);
    expect(recs[0].id).toBe(end.data.chargingSession.usageRecordId);
    expect(await storedChargeRequests(db)).toHaveLength(0);
    // A repeated TERMINATE (the reply was lost) gets the same answer and commits nothing again.
    const again = await svc.request(SESSION, { i: { operation: 'TERMINATE', sessionId: 'gy-1', invocationSequenceNumber: 2, usedUnits: '30' } });
    expect(again.data.chargingSession).toEqual(end.data.chargingSession);
    expect(commits).toHaveLength(2);
    // Input errors name their field.
    const bad = await svc.request(SESSION, { i: { operation: 'UPDATE', sessionId: 'gy-1', invocationSequenceNumber: -1 } });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.invocationSequenceNumber' });
  });

  it('units used on a reservation that expired are charged as a usage record of their own, once', async () => {
    const ask = async (i: object) => (await svc.request(SESSION, { i: { sessionId: 'gy-exp', ...i } })).data.chargingSession;
    expect(await ask({ operation: 'RESERVE', lineId: 'lin_ocs', usageType: 'DATA', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    const held = reserves.find((r) => r.sessionId === 'gy-exp')!;
    expect(held.requestId).toBe('gy-exp#0'); // RESERVE is number 0 unless told
    // Wallets' expiry job released the reservation before the network element reported its 25 MB.
    const reservationId = `rsv_${reserves.indexOf(held) + 1}`;
    expired.add(reservationId);
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '25', requestedUnits: '0' };
    const first = await ask(update);
    expect(first).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await ask(update)).toEqual(first);
    // A prepaid line's: held and committed in wallets within the report (request id `<session>#<n>:unreserved`), once
    // (the retransmission is answered from the session), never a ChargeRequest.
    const pastGrant = (requestId: string) => reserves.filter((r) => r.requestId === requestId).map((r) => r.requestedUnits);
    expect(pastGrant('gy-exp#1:unreserved')).toEqual(['25']);
    expect(await storedChargeRequests(db, "payload::jsonb->>'lineId' = 'lin_ocs' and payload::jsonb->>'usageType' = 'DATA' and payload::jsonb->>'units' = '25'")).toHaveLength(0);
    const rec = (await db.query(`select quantity::text, status, charge_status from ${CHARGED_RECORDS} where source = 'ocs' and event_id = 'gy-exp#1:unreserved'`)).rows;
    expect(rec).toEqual([{ quantity: expect.stringMatching(/^25(\.0+)?$/), status: 'RATED', charge_status: 'APPLIED' }]);
    // Nothing was held after it (0 asked): the terminate's own units are charged past the grant too; the session's record has none.
    const end = await ask({ operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '5' });
    const records = (await db.query(`select event_id, quantity::float8 as q, charge_status from ${CHARGED_RECORDS} where source = 'ocs' and event_id like 'gy-exp%' order by event_id`)).rows;
    expect(records).toEqual([{ event_id: 'gy-exp', q: 0, charge_status: expect.any(String) }, { event_id: 'gy-exp#1:unreserved', q: 25, charge_status: 'APPLIED' }, { event_id: 'gy-exp#2:unreserved', q: 5, charge_status: 'APPLIED' }]);
    expect(pastGrant('gy-exp#2:unreserved')).toEqual(['5']);
    expect(end.usageRecordId).toBeTruthy();
  });

  it('a session that stops reporting is closed and its reservation released; a report after that is charged as usage', async () => {
    const ask = async (i: object) => (await svc.request(SESSION, { i: { sessionId: 'gy-idle', ...i } })).data.chargingSession;
    await ask({ operation: 'RESERVE', lineId: 'lin_ocs', usageType: 'DATA', requestedUnits: '60' });
    expect(await ask({ operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    const usage = usageRuntimeOf(svc.runtime);
    const idle = 15 * 60_000;
    // Not yet idle long enough: nothing closes.
    expect(await closeStaleSessions(usage, nc, new Date(Date.now() + idle - 60_000), idle)).toBe(0);
    const later = new Date(Date.now() + idle + 60_000);
    expect(await closeStaleSessions(usage, nc, later, idle)).toBe(1);
    expect(await closeStaleSessions(usage, nc, later, idle)).toBe(0);
    const second = `rsv_${reserves.findIndex((r) => r.requestId === 'gy-idle#1') + 1}`;
    expect(commits.filter((c) => c.reservationId === second)).toEqual([{ reservationId: second, usedUnits: '0' }]); // released
    const state = async () => (await db.query(`select state, (select json_agg(json_build_object('e', event_id, 'q', quantity::float8, 'c', charge_status) order by event_id) from ${CHARGED_RECORDS} where source = 'ocs' and event_id like 'gy-idle%') as records from charging_session where id = 'gy-idle'`)).rows[0];
    expect(await state()).toEqual({ state: 'TIMED_OUT', records: [{ e: 'gy-idle#1', q: 60, c: 'APPLIED' }] });
    // The network element reports after all (twice): its 10 MB are charged once, as usage, and nothing more is granted.
    const end = { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '10' };
    expect(await ask(end)).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true, grantedUnit: null });
    await ask(end);
    // A prepaid line's units past any grant are held and committed within the report (charged once: one reservation).
    expect(await state()).toEqual({ state: 'TIMED_OUT', records: [{ e: 'gy-idle#1', q: 60, c: 'APPLIED' }, { e: 'gy-idle#2:unreserved', q: 10, c: 'APPLIED' }] });
    expect(reserves.filter((r) => r.sessionId === 'gy-idle').map((r) => r.requestId)).toEqual(['gy-idle#0', 'gy-idle#1', 'gy-idle#2:unreserved']);
  });

  it('a line suspended during a session is granted nothing more; what it used is still charged', async () => {
    await setLine(svc, { lineId: 'lin_ocs_u', msisdn: '+4915100000096', account: 'acc_ocs_u', planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
    const ask = async (i: object) => (await svc.request(SESSION, { i: { sessionId: 'gy-susp', ...i } })).data.chargingSession;
    expect(await ask({ operation: 'RESERVE', lineId: 'lin_ocs_u', usageType: 'DATA', requestedUnits: '50' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '50' });
    await setLine(svc, { lineId: 'lin_ocs_u', msisdn: '+4915100000096', account: 'acc_ocs_u', planVersionId: 'plv_prepaid', paymentMode: 'PREPAID', status: 'SUSPENDED', at: new Date().toISOString() });
    const denied = await ask({ operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '50', requestedUnits: '50' });
    expect(denied).toMatchObject({ resultCode: 'END_USER_SERVICE_DENIED', finalUnitIndication: true, grantedUnit: null });
    expect(reserves.filter((r) => r.sessionId === 'gy-susp').map((r) => r.requestId)).toEqual(['gy-susp#0']);
    const held = `rsv_${reserves.findIndex((r) => r.requestId === 'gy-susp#0') + 1}`;
    expect(commits.filter((c) => c.reservationId === held)).toEqual([{ reservationId: held, usedUnits: '50' }]);
    const rec = (await db.query(`select quantity::float8 as q, charge_status from ${CHARGED_RECORDS} where source = 'ocs' and event_id = 'gy-susp#1'`)).rows[0];
    expect(rec).toEqual({ q: 50, charge_status: 'APPLIED' });
  });

  it('more units are rated again at each UPDATE: after a plan change mid-session they are held on the new plan', async () => {
    await setLine(svc, { lineId: 'lin_ocs_r', msisdn: '+4915100000095', account: 'acc_ocs_r', planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
    const ask = async (i: object) => (await svc.request(SESSION, { i: { sessionId: 'gy-rr', ...i } })).data.chargingSession;
    await ask({ operation: 'RESERVE', lineId: 'lin_ocs_r', usageType: 'DATA', requestedUnits: '50' });
    const at = new Date().toISOString();
    await setLine(svc, { lineId: 'lin_ocs_r', msisdn: '+4915100000095', account: 'acc_ocs_r', planVersionId: 'plv_payg', paymentMode: 'PREPAID', subscriptionId: 'sub_lin_ocs_r_payg', startsAt: at, at });
    expect(await ask({ operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '50', requestedUnits: '50' })).toMatchObject({ resultCode: 'SUCCESS' });
    const [first, second] = reserves.filter((r) => r.sessionId === 'gy-rr');
    expect(first).toMatchObject({ requestId: 'gy-rr#0', allowanceIds: ['data'], pricePerUnit: '0.02' });
    // Pay as you go: no data allowance, its own price.
    expect(second).toMatchObject({ requestId: 'gy-rr#1', allowanceIds: [] });
    expect(second!.pricePerUnit).not.toBe('0.02');
  });

  it('answers over NATS request/reply: a suspended line is denied, an unknown one is USER_UNKNOWN', async () => {
    const ask = async (body: object) => (await nc.request(RPC.chargingSession, JSON.stringify(body), { timeout: 5000 })).json<{ resultCode: string }>();
    const before = await scrapeMetrics(svc);
    expect(await ask({ operation: 'RESERVE', sessionId: 'gy-2', msisdn: '+4915100000098', usageType: 'VOICE', requestedUnits: '60', calledNumber: '+4930123456' })).toMatchObject({ resultCode: 'END_USER_SERVICE_DENIED' });
    expect(await ask({ operation: 'RESERVE', sessionId: 'gy-3', msisdn: '+4915100000097', usageType: 'VOICE', requestedUnits: '60' })).toMatchObject({ resultCode: 'USER_UNKNOWN' });
    expect(await ask({ operation: 'RESERVE', sessionId: 'gy-4', lineId: 'lin_ocs', usageType: 'VOICE', requestedUnits: '60', calledNumber: '+4930123456' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await ask({ operation: 'TRANSFER', sessionId: 'gy-5' })).toMatchObject({ resultCode: 'RATING_FAILED' });
    // Each request is counted by operation and result code on /metrics.
    const after = await scrapeMetrics(svc);
    const delta = (labels: string) => (after[`ledgerline_usage_charging_session_requests_total{${labels}}`] ?? 0) - (before[`ledgerline_usage_charging_session_requests_total{${labels}}`] ?? 0);
    expect(delta('operation="RESERVE",result_code="END_USER_SERVICE_DENIED",replayed="false"')).toBe(1);
    expect(delta('operation="RESERVE",result_code="USER_UNKNOWN",replayed="false"')).toBe(1);
    expect(delta('operation="RESERVE",result_code="SUCCESS",replayed="false"')).toBe(1);
    expect(delta('operation="INVALID",result_code="RATING_FAILED",replayed="false"')).toBe(1);
  });
});
