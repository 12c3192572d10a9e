// review31: a charging session request over NATS that failed inside usage (a database error) was answered
// RATING_FAILED with `message: <the error's own message>`, PostgreSQL's text ("new row for relation
// "charging_session" violates check constraint …"), to the network element or partner. Now the reply says
// "internal error" with a reference, and the error is logged with that reference; input errors still name the field.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RPC, type WalletReserveRequest } from '@ledgerline/contracts';
import { startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { askChargingSession, filePlanSource, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let nc: NatsConnection;
let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r31${run}`;

beforeAll(async () => {
  nats = await startPrivateNats();
  nc = await waitFor(() => connect({ servers: nats.url }).catch(() => undefined), 10_000, 'the private nats-server');
  // Stand-in wallets: grants what is asked; commits and releases succeed.
  let n = 0;
  nc.subscribe(RPC.walletReserve, {
    callback: (_, msg) => {
      const req = msg.json<WalletReserveRequest>();
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: `rsv_${run}_${++n}`, grantedUnit: { unit: req.unit, units: req.requestedUnits, unitsFromAllowances: req.requestedUnits, amount: '0', currency: req.currency }, validityTime: 300 }));
    },
  });
  for (const subject of [RPC.walletCommit, RPC.walletRelease]) {
    nc.subscribe(subject, {
      callback: (_, msg) => void msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: msg.json<{ reservationId: string }>().reservationId, status: 'RELEASED', usedUnits: '0', amountCharged: '0' })),
    });
  }
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['sessions'] }), { env: { NATS_URL: nats.url } });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100031001', account: `acc_r31${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
  // A failure only PostgreSQL knows of: a session whose id begins with "boom" is never stored.
  await db.query(`alter table charging_session add constraint review31_fail check (id not like 'boom%')`);
});

afterAll(async () => {
  await db?.query(`alter table charging_session drop constraint if exists review31_fail`);
  await db?.end();
  await svc?.close();
  await nc?.close();
  await nats?.stop();
});

describe('review31: a charging session answers an internal failure without its details', () => {
  it('RESERVE over NATS: "internal error" and a reference the log line carries with the database text', async () => {
    const logged = vi.spyOn(svc.runtime.logger, 'error');
    const reply = await askChargingSession(nc, `boom-${run}`, { operation: 'RESERVE', lineId, usageType: 'DATA', requestedUnits: '5' });
    expect(reply).toMatchObject({ resultCode: 'RATING_FAILED', finalUnitIndication: true });
    expect(reply.message).not.toMatch(/charging_session|constraint|review31|relation/);
    const ref = /^internal error \(reference (\S+)\)$/.exec(reply.message ?? '')?.[1];
    expect(ref, reply.message).toBeDefined();
    const entry = logged.mock.calls.find((args: unknown[]) => (args[0] as { reference?: string })?.reference === ref);
    expect(entry, 'the error is logged with the reference').toBeDefined();
    expect(String((entry![0] as { err?: Error }).err?.message)).toContain('review31_fail');
    logged.mockRestore();
  });

  it('an input error still names its field, and a request that is not JSON is refused as such', async () => {
    const reply = await askChargingSession(nc, `ok-${run}`, { operation: 'RESERVE', lineId, usageType: 'DATA', requestedUnits: '-5' });
    expect(reply).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('requestedUnits') });
    const notJson = (await nc.request(RPC.chargingSession, '{"operation":', { timeout: 10_000 })).json<{ resultCode: string; message?: string }>();
    expect(notJson).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('not JSON') });
    expect(await askChargingSession(nc, `ok-${run}`, { operation: 'RESERVE', lineId, usageType: 'DATA', requestedUnits: '5' })).toMatchObject({ resultCode: 'SUCCESS' });
  });
});
