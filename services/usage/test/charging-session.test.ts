/**
 * Online charging against a stand-in for wallets' reserve/commit responders (the real ones live
 * in services/wallets). It runs on a private nats-server so no other service's responder answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RPC, type WalletCommitRequest, type WalletReserveRequest } from '@ledgerline/contracts';
import { startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { filePlanSource, setLine, sqlOf, storedChargeRequests, waitFor } from './support';

let nats: ChildProcess;
let nc: NatsConnection;
let svc: TestService;
let db: pg.Client;
const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'usage-ocs-nats-'));
const reserves: WalletReserveRequest[] = [];
const commits: WalletCommitRequest[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit validityTime finalUnitIndication usageRecordId } }`;

beforeAll(async () => {
  const port = await freePort();
  nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: 'ignore' });
  const url = `nats://127.0.0.1:${port}`;
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
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: req.reservationId, status: 'COMMITTED', usedUnits: req.usedUnits }));
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
  nats?.kill();
  fs.rmSync(storeDir, { recursive: true, force: true });
});

describe('online charging session', () => {
  it('reserve → update → terminate over GraphQL reserves in wallets and stores one record, charged through the reservation', async () => {
    const reserve = await svc.request(SESSION, { i: { operation: 'RESERVE', sessionId: 'gy-1', lineId: 'lin_ocs', usageType: 'DATA', requestedUnits: '150' } });
    expect(reserve.data.chargingSession).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '100', validityTime: 300, finalUnitIndication: false });
    expect(reserves[0]).toMatchObject({ billingAccountId: 'acc_ocs', lineId: 'lin_ocs', unit: 'MB', requestedUnits: '150', allowanceIds: ['data'], pricePerUnit: '0.02', allowOverdraft: false });
    const update = await svc.request(SESSION, { i: { operation: 'UPDATE', sessionId: 'gy-1', usedUnits: '100', requestedUnits: '50' } });
    expect(update.data.chargingSession).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '50' });
    const end = await svc.request(SESSION, { i: { operation: 'TERMINATE', sessionId: 'gy-1', usedUnits: '30' } });
    expect(end.data.chargingSession).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(commits.map((c) => [c.reservationId, c.usedUnits])).toEqual([['rsv_1', '100'], ['rsv_2', '30']]);
    const rec = (await db.query('select quantity::text, status, charge_status, source from usage_record where id = $1', [end.data.chargingSession.usageRecordId])).rows[0];
    expect(rec).toMatchObject({ status: 'RATED', charge_status: 'APPLIED', source: 'ocs' });
    expect(Number(rec.quantity)).toBe(130);
    expect(await storedChargeRequests(db)).toHaveLength(0);
    const again = await svc.request(SESSION, { i: { operation: 'TERMINATE', sessionId: 'gy-1', usedUnits: '30' } });
    expect(again.data.chargingSession.resultCode).toBe('RATING_FAILED');
  });

  it('answers over NATS request/reply: a suspended line is denied, an unknown one is USER_UNKNOWN', async () => {
    const ask = async (body: object) => (await nc.request(RPC.chargingSession, JSON.stringify(body), { timeout: 5000 })).json<{ resultCode: string }>();
    expect(await ask({ operation: 'RESERVE', sessionId: 'gy-2', msisdn: '+4915100000098', usageType: 'VOICE', requestedUnits: '60', calledNumber: '+4930123456' })).toMatchObject({ resultCode: 'END_USER_SERVICE_DENIED' });
    expect(await ask({ operation: 'RESERVE', sessionId: 'gy-3', msisdn: '+4915100000097', usageType: 'VOICE', requestedUnits: '60' })).toMatchObject({ resultCode: 'USER_UNKNOWN' });
    expect(await ask({ operation: 'RESERVE', sessionId: 'gy-4', lineId: 'lin_ocs', usageType: 'VOICE', requestedUnits: '60', calledNumber: '+4930123456' })).toMatchObject({ resultCode: 'SUCCESS' });
  });
});
