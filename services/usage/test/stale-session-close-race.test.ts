/**
 * The idle-session sweeper (closeStaleSessions) against a report that lands while it runs (found in
 * review). The first two tests show the race and fail on the old code; the last two pin the order
 * the fix sets (claim, then release) and fail on it too, as the old sweeper released before it wrote
 * anything (harmless in those two interleavings). The old sweeper read the silent sessions, read
 * each row again, released the reservation named in that second read, and wrote TIMED_OUT if the
 * session's number had not moved since. Neither read was checked again when the row was written:
 * - a report answered between the first read and the second (UPDATE: commit the last reservation,
 *   hold a new one `<session>#<n>`, answer SUCCESS with grantedUnit) had that NEW reservation
 *   released, and its session closed: the network element was told the units were granted, wallets
 *   no longer held them, and its next report was charged as usage outside any reservation;
 * - a report in flight (its number claimed, the row's context not written yet) had its session
 *   closed with the context from before it: the reservation it was granted meanwhile was forgotten
 *   by the session (held in wallets until it expired) and its next report charged again outside it.
 *
 * Now the sweeper claims the session first (OPEN and still silent → TIMED_OUT, one conditional
 * update), then releases the reservation the claimed row names: a report that came first leaves the
 * session OPEN and its reservation untouched; one that comes after finds it TIMED_OUT and is charged
 * as usage with nothing granted (third test); a crash between the claim and the release leaves the
 * session TIMED_OUT and the reservation to wallets' expiry (fourth).
 *
 * The interleavings are forced: the sweeper runs with its SQL pool and NATS connection wrapped so it
 * stops after reading the silent sessions and before asking wallets, and a stand-in for wallets'
 * reserve/commit responders (on a private nats-server) keeps each reservation's state as wallets
 * does (idempotent by request id; a close of a closed reservation answers its final state) and can
 * hold a commit. The session responder runs without the service's own sweeper, so only the test's
 * sweeper closes sessions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { RPC, dec, type WalletCommitRequest, type WalletReserveRequest } from '@ledgerline/contracts';
import { startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { startChargingSessionResponder } from '../src/events/charging-session-responder';
import { closeStaleSessions, type ChargingSessionRequest } from '../src/application/charging-session';
import { askChargingSession, filePlanSource, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let nc: NatsConnection;
let svc: TestService;
let db: pg.Client;
let stopResponder: () => Promise<void>;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_scr${run}`;
const IDLE_MS = 15 * 60_000;

/** The stand-in's reservations, by id, as wallets keeps them. */
const reservations = new Map<string, { requestId: string; granted: string; status: 'RESERVED' | 'COMMITTED'; used: string | null }>();
const byRequest = new Map<string, string>();
/** A commit the stand-in holds (the first on that reservation) until released. */
let heldCommit: { reservationId: string; reached: () => void; release: Promise<void> } | undefined;

/** A point the test holds a party at: `reached` resolves when it gets there, `open()` lets it on. */
function gate(): { reached: Promise<void>; arrive: () => void; open: () => void; opened: Promise<void> } {
  let arrive!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const opened = new Promise<void>((r) => (open = r));
  return { reached, arrive, open, opened };
}

beforeAll(async () => {
  nats = await startPrivateNats();
  nc = await waitFor(() => connect({ servers: nats.url }).catch(() => undefined), 10_000, 'the private nats-server');
  let n = 0;
  nc.subscribe(RPC.walletReserve, {
    callback: (_, msg) => {
      const req = msg.json<WalletReserveRequest>();
      let id = byRequest.get(req.requestId);
      if (!id) {
        id = `rsv_${run}_${++n}`;
        byRequest.set(req.requestId, id);
        reservations.set(id, { requestId: req.requestId, granted: req.requestedUnits, status: 'RESERVED', used: null });
      }
      const units = reservations.get(id)!.granted;
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: id, grantedUnit: { unit: req.unit, units, unitsFromAllowances: units, amount: '0', currency: req.currency }, validityTime: 300 }));
    },
  });
  nc.subscribe(RPC.walletCommit, {
    callback: (_, msg) => void (async () => {
      const req = msg.json<WalletCommitRequest>();
      const hold = heldCommit?.reservationId === req.reservationId ? heldCommit : undefined;
      if (hold) {
        heldCommit = undefined;
        hold.reached();
        await hold.release;
      }
      const r = reservations.get(req.reservationId);
      if (!r) return msg.respond(JSON.stringify({ resultCode: 'USER_UNKNOWN', reservationId: req.reservationId, error: { code: 'RESERVATION_NOT_FOUND', message: 'no such reservation' } }));
      if (r.status === 'RESERVED') {
        r.status = 'COMMITTED';
        r.used = dec(req.usedUnits).gt(r.granted) ? r.granted : dec(req.usedUnits).toFixed();
      }
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: req.reservationId, status: r.status, usedUnits: r.used, unitsFromAllowances: r.used, amountCharged: '0' }));
    })(),
  });
  // No background consumers (so no sweeper of the service's own): the session responder only.
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { env: { NATS_URL: nats.url } });
  stopResponder = await startChargingSessionResponder(svc.runtime.messaging, usageRuntimeOf(svc.runtime), svc.runtime);
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100007401', account: `acc_scr${run}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await stopResponder?.();
  await db?.end();
  await svc?.close();
  await nc?.close();
  await nats?.stop();
});

const ask = (sessionId: string, req: Omit<ChargingSessionRequest, 'sessionId'>) => askChargingSession(nc, sessionId, req);

/** A session of its own that reserved 60 MB and has been silent for an hour. */
async function silentSession(name: string): Promise<string> {
  const sessionId = `gy-${name}-${run}`;
  expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
  await db.query(`update charging_session set updated_at = updated_at - interval '1 hour' where id = $1`, [sessionId]);
  return sessionId;
}

/** The stand-in's reservation made for request `<session>#<n>`. */
function reservationFor(sessionId: string, n: number): { id: string; status: string; used: string | null; granted: string } | undefined {
  const id = byRequest.get(`${sessionId}#${n}`);
  return id ? { id, ...reservations.get(id)! } : undefined;
}

async function sessionRow(sessionId: string): Promise<{ state: string; granted: string; reservationId: string | null }> {
  const { rows } = await db.query<{ state: string; granted: string; context: string }>(`select state, granted::text, context from charging_session where id = $1`, [sessionId]);
  return { state: rows[0]!.state, granted: dec(rows[0]!.granted).toFixed(), reservationId: JSON.parse(rows[0]!.context).reservationId };
}

/** The session's usage records past its RESERVE: event id → units. */
async function records(sessionId: string): Promise<Record<string, string>> {
  const { rows } = await db.query<{ event_id: string; quantity: string }>(`select event_id, quantity::text from usage_record where source = 'ocs' and event_id like $1 order by event_id`, [`${sessionId}#%`]);
  return Object.fromEntries(rows.map((r) => [r.event_id, dec(r.quantity).toFixed()]));
}

/**
 * closeStaleSessions at `now`, held after its first query (the silent sessions read) and before its
 * first request to wallets; `walletsFail` makes that request fail (the connection lost, or the
 * process gone, between whatever the sweeper wrote before it and what it would write after).
 */
function sweepWithGates(options: { walletsFail?: boolean } = {}) {
  const afterRead = gate();
  const beforeWallets = gate();
  const usage = usageRuntimeOf(svc.runtime);
  let queries = 0;
  const sql = new Proxy(usage.sql, {
    get(target, prop) {
      if (prop === 'query') {
        return async (...args: unknown[]) => {
          const result = await (target.query as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (queries++ === 0) {
            afterRead.arrive();
            await afterRead.opened;
          }
          return result;
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const walletsNc = new Proxy(nc, {
    get(target, prop) {
      if (prop === 'request') {
        return async (...args: unknown[]) => {
          beforeWallets.arrive();
          await beforeWallets.opened;
          if (options.walletsFail) throw new Error('connection to wallets lost');
          return (target.request as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const sweep = closeStaleSessions({ ...usage, sql }, walletsNc, new Date(), IDLE_MS);
  sweep.catch(() => undefined);
  return { sweep, afterRead, beforeWallets };
}

describe('closing a silent session while a report lands', () => {
  it('a report answered after the sweeper read the silent sessions keeps the reservation it was just granted, and its session stays OPEN', async () => {
    const sessionId = await silentSession('answered');
    const sweeper = sweepWithGates();
    await sweeper.afterRead.reached;
    // The network element reports 60 MB and is granted 40 more, held in wallets as `<session>#1`.
    const update = await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '40' });
    expect(update).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    sweeper.afterRead.open();
    sweeper.beforeWallets.open();
    const closed = await sweeper.sweep;
    const granted = reservationFor(sessionId, 1)!;
    expect(granted, 'the reservation behind the 40 MB just granted').toMatchObject({ status: 'RESERVED', granted: '40' });
    expect(await sessionRow(sessionId)).toEqual({ state: 'OPEN', granted: '40', reservationId: granted.id });
    expect(closed).toBe(0);
    // The 40 MB are used and reported: charged through that reservation, not outside one.
    expect(await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '40', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    expect(reservationFor(sessionId, 1)).toMatchObject({ status: 'COMMITTED', used: '40' });
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60', [`${sessionId}#2`]: '40' });
  });

  it('a report in flight when the sweeper read the silent sessions, answered before it would close them: the session keeps its new reservation', async () => {
    const sessionId = await silentSession('in-flight');
    const sweeper = sweepWithGates();
    await sweeper.afterRead.reached;
    // The UPDATE claims number 1, then its commit of the RESERVE's reservation is held in wallets.
    let reached!: () => void;
    let release!: () => void;
    const commitReached = new Promise<void>((r) => (reached = r));
    heldCommit = { reservationId: reservationFor(sessionId, 0)!.id, reached, release: new Promise<void>((r) => (release = r)) };
    const updating = ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '40' });
    await commitReached;
    sweeper.afterRead.open();
    // The sweeper goes on until it asks wallets (it has read the session as it is mid-report), or it is done.
    await Promise.race([sweeper.beforeWallets.reached, sweeper.sweep.catch(() => undefined)]);
    release();
    const update = await updating;
    expect(update).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    sweeper.beforeWallets.open();
    const closed = await sweeper.sweep;
    const granted = reservationFor(sessionId, 1)!;
    expect(await sessionRow(sessionId), 'the session holds the reservation its last reply granted').toEqual({ state: 'OPEN', granted: '40', reservationId: granted.id });
    expect(granted).toMatchObject({ status: 'RESERVED', granted: '40' });
    expect(closed).toBe(0);
    expect(await ask(sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(reservationFor(sessionId, 1)).toMatchObject({ status: 'COMMITTED', used: '40' });
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60' });
    expect((await db.query(`select quantity::text as q from usage_record where source = 'ocs' and event_id = $1`, [sessionId])).rows).toEqual([{ q: '40.000000' }]);
  });

  it('a report that comes after the sweeper claimed the session (before it released the reservation) is charged as usage and granted nothing', async () => {
    const sessionId = await silentSession('claimed');
    const sweeper = sweepWithGates();
    sweeper.afterRead.open();
    await sweeper.beforeWallets.reached;
    // The session is TIMED_OUT before its reservation is released: the report cannot use it, nor be granted more.
    expect((await sessionRow(sessionId)).state).toBe('TIMED_OUT');
    const update = await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '40' });
    expect(update).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(update.grantedUnit ?? null).toBeNull();
    expect(reservationFor(sessionId, 1)).toBeUndefined();
    sweeper.beforeWallets.open();
    expect(await sweeper.sweep).toBe(1);
    expect(reservationFor(sessionId, 0)).toMatchObject({ status: 'COMMITTED', used: '0' });
    expect(await sessionRow(sessionId)).toEqual({ state: 'TIMED_OUT', granted: '0', reservationId: null });
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1:unreserved`]: '60' });
  });

  it('a release that fails after the claim leaves the session TIMED_OUT (never granted again) and its reservation to wallets\' expiry', async () => {
    const sessionId = await silentSession('lost');
    const sweeper = sweepWithGates({ walletsFail: true });
    sweeper.afterRead.open();
    sweeper.beforeWallets.open();
    await expect(sweeper.sweep).rejects.toThrow(/TIMED_OUT.*expiry/);
    // Held until its validity ends (wallets' expiry job gives it back; it was granted validityTime 300).
    expect(reservationFor(sessionId, 0)).toMatchObject({ status: 'RESERVED' });
    expect(await sessionRow(sessionId)).toMatchObject({ state: 'TIMED_OUT', granted: '0' });
    expect(await closeStaleSessions(usageRuntimeOf(svc.runtime), nc, new Date(), IDLE_MS)).toBe(0);
    const update = await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '40' });
    expect(update).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(update.grantedUnit ?? null).toBeNull();
    expect(reservationFor(sessionId, 0)).toMatchObject({ status: 'RESERVED' });
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1:unreserved`]: '60' });
  });
});
