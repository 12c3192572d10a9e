/**
 * Online charging sessions with long session ids (found in review; each test failed on the old
 * code). `sessionId` may be up to 128 characters (sessionInputProblem; Diameter Session-Ids are
 * `<host>;<hi>;<lo>[;<optional>]`, often long), but the usage records a session writes have event
 * ids built from it - `<session>#<n>` for what a commit charged and `<session>#<n>:unreserved` for
 * units reported past the reservation - and an event id over 128 characters is rejected
 * (EVENT_ID_INVALID). So for a session id of 116 to 128 characters the units reported past the
 * grant were stored REJECTED and never charged (free usage), and from 123 characters a RESERVE
 * was refused outright (its rating probe's event id `<session>:probe` was too long). Event ids are
 * also trimmed, so ` gy-1` and `gy-1` wrote the same record ids (the second session's were
 * dropped as duplicates).
 *
 * A session id over 106 characters is named on its records by its head and a hash of all of it
 * (sessionRecordKey), so the records of such a session do not start with the whole session id:
 * each session here has a line of its own and its records are found by their line. (As first
 * written, the test looked the records up by `<session id><suffix>`, which no event id of 128
 * characters can hold for `#1:unreserved` after 120 characters: it could not pass whatever the fix.)
 *
 * Runs against a stand-in for wallets' reserve/commit responders on a private nats-server (as
 * charging-session.test.ts does): it grants what is asked up to 100 units and commits at most
 * what it granted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { RPC, WORK_SUBJECTS, dec, type ChargeRequest, type WalletCommitRequest, type WalletReserveRequest } from '@ledgerline/contracts';
import type pg from 'pg';
import { startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { filePlanSource, setLine, sqlOf, waitFor } from './support';

let nats: Awaited<ReturnType<typeof startPrivateNats>>;
let nc: NatsConnection;
let svc: TestService;
let db: pg.Client;
/** Every ChargeRequest usage published to wallets. */
const requested: ChargeRequest[] = [];
const run = Math.random().toString(36).slice(2, 8);
const granted = new Map<string, string>();
/** Every reserve usage asked wallets for. */
const reserves: WalletReserveRequest[] = [];

const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit finalUnitIndication usageRecordId } }`;

beforeAll(async () => {
  nats = await startPrivateNats();
  nc = await waitFor(() => connect({ servers: nats.url }).catch(() => undefined), 10_000, 'the private nats-server');
  nc.subscribe(WORK_SUBJECTS.chargeRequested, {
    callback: (_, msg) => {
      const body = msg.json<ChargeRequest | ChargeRequest[]>();
      requested.push(...(Array.isArray(body) ? body : [body]));
    },
  });
  let n = 0;
  // Idempotent by request id, as wallets is: a repeated request gets its reservation again.
  const byRequest = new Map<string, string>();
  nc.subscribe(RPC.walletReserve, {
    callback: (_, msg) => {
      const req = msg.json<WalletReserveRequest>();
      reserves.push(req);
      const units = dec(req.requestedUnits).gt(100) ? '100' : dec(req.requestedUnits).toString();
      const reservationId = byRequest.get(req.requestId) ?? `rsv_${run}_${++n}`;
      byRequest.set(req.requestId, reservationId);
      granted.set(reservationId, units);
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId, grantedUnit: { unit: req.unit, units, unitsFromAllowances: units, amount: '0', currency: req.currency }, validityTime: 300 }));
    },
  });
  nc.subscribe(RPC.walletCommit, {
    callback: (_, msg) => {
      const req = msg.json<WalletCommitRequest>();
      const held = dec(granted.get(req.reservationId) ?? '0');
      const used = dec(req.usedUnits).gt(held) ? held : dec(req.usedUnits);
      msg.respond(JSON.stringify({ resultCode: 'SUCCESS', reservationId: req.reservationId, status: 'COMMITTED', usedUnits: used.toString(), unitsFromAllowances: used.toString(), amountCharged: '0' }));
    },
  });
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['sessions'] }), { env: { NATS_URL: nats.url } });
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
  await nc?.close();
  await nats?.stop();
});

/** A session id of `length` characters, as a network element may send it (`last` ends it). */
const sessionIdOf = (length: number, last = '7') => {
  const head = `pgw${length}-${run}.epc.mnc001.mcc262.3gppnetwork.org;1732700000;`;
  return `${head}${'7'.repeat(length - head.length - 1)}${last}`;
};

let lines = 0;
/** A prepaid line of its own for one session: its records are the session's. */
async function newLine(): Promise<string> {
  const lineId = `lin_sid${run}${++lines}`;
  await setLine(svc, { lineId, msisdn: `+491510000797${lines}`, account: `acc_sid${run}${lines}`, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
  return lineId;
}

type Node = { eventId: string; status: string; rejectionCode: string | null; quantity: string | null; chargeStatus: string };
/** The line's usage records, by quantity. */
async function recordsOf(lineId: string) {
  const res = await svc.request(`query($l: ID!) { usageRecords(first: 100, filter: { lineId: $l }) { edges { node { eventId status rejectionCode quantity chargeStatus } } } }`, { l: lineId });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  const nodes = (res.data.usageRecords.edges as { node: Node }[]).map((e) => e.node);
  for (const r of nodes) expect(r.eventId.length).toBeLessThanOrEqual(128);
  expect(new Set(nodes.map((r) => r.eventId)).size).toBe(nodes.length);
  return nodes
    .map((r) => ({ status: r.status, rejection: r.rejectionCode, quantity: r.quantity === null ? null : dec(r.quantity).toString(), charge: r.chargeStatus }))
    .sort((a, b) => Number(a.quantity) - Number(b.quantity));
}

/**
 * The line's units charged past a grant: a prepaid line's are held and committed in wallets within the report
 * (request id `<session>#<n>:unreserved`; one reservation per request id, however often it is asked), never a ChargeRequest.
 */
const chargedUnits = (lineId: string) => {
  const past = new Map(reserves.filter((r) => r.lineId === lineId && r.requestId.endsWith(':unreserved')).map((r) => [r.requestId, dec(r.requestedUnits).toString()]));
  return [...requested.filter((c) => c.lineId === lineId).map((c) => dec(c.units).toString()), ...past.values()];
};

async function ask(sessionId: string, i: Record<string, unknown>) {
  const res = await svc.request(SESSION, { i: { sessionId, ...i } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.chargingSession;
}

const UPDATE = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '0' };

/** RESERVE 40 MB, then an UPDATE reporting 60 MB used: 40 on the reservation, 20 past it. Returns the UPDATE's reply. */
async function sessionPastItsGrant(sessionId: string, lineId: string) {
  expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
  const reply = await ask(sessionId, UPDATE);
  expect(reply).toMatchObject({ resultCode: 'SUCCESS' });
  return reply;
}

/** The 20 MB past the grant charged within the report (a prepaid line: held and committed), the 40 on the reservation charged through it. */
const PAST_THE_GRANT = [
  { status: 'RATED', rejection: null, quantity: '20', charge: 'APPLIED' },
  { status: 'RATED', rejection: null, quantity: '40', charge: 'APPLIED' },
];

describe('online charging sessions with long session ids', () => {
  it('a session id of 120 characters: the 20 MB used past the grant are charged like any usage, once, even when the UPDATE is done again after a crash', async () => {
    const sessionId = sessionIdOf(120);
    const lineId = await newLine();
    expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    const reserved = (await db.query(`select used, granted, context from charging_session where id = $1`, [sessionId])).rows[0];
    const first = await ask(sessionId, UPDATE);
    expect(first).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await recordsOf(lineId)).toEqual(PAST_THE_GRANT);
    await waitFor(async () => chargedUnits(lineId).length > 0, 5_000, 'the ChargeRequest of the 20 MB').catch(() => undefined);
    expect(chargedUnits(lineId)).toEqual(['20']);
    // The process died after the UPDATE's effects, before its reply was stored: the session row still
    // holds what it had after the RESERVE, number 1 claimed by this request. The retry does every step
    // again; they land on the same ids (derived from the long session id the same way), so nothing twice.
    await db.query(`update charging_session set used = $2, granted = $3, context = $4, last_reply = null where id = $1`, [sessionId, reserved.used, reserved.granted, reserved.context]);
    expect(await ask(sessionId, UPDATE)).toEqual(first);
    expect(await recordsOf(lineId)).toEqual(PAST_THE_GRANT);
    await new Promise((r) => setTimeout(r, 300)); // a ChargeRequest is published right after its record is stored
    expect(chargedUnits(lineId)).toEqual(['20']);
    expect(await ask(sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
  });

  it('a session id of 128 characters (the maximum accepted) is granted units, and what it uses is on rated records', async () => {
    const sessionId = sessionIdOf(128);
    const lineId = await newLine();
    await sessionPastItsGrant(sessionId, lineId);
    expect(await recordsOf(lineId)).toEqual(PAST_THE_GRANT);
    await waitFor(async () => chargedUnits(lineId).length > 0, 5_000, 'the ChargeRequest of the 20 MB').catch(() => undefined);
    expect(chargedUnits(lineId)).toEqual(['20']);
  });

  it('two sessions whose 128-character ids differ only in their last character keep records of their own', async () => {
    const [a, b] = [sessionIdOf(128, 'A'), sessionIdOf(128, 'B')];
    const [lineA, lineB] = [await newLine(), await newLine()];
    await sessionPastItsGrant(a, lineA);
    await sessionPastItsGrant(b, lineB);
    expect(await recordsOf(lineA)).toEqual(PAST_THE_GRANT);
    expect(await recordsOf(lineB)).toEqual(PAST_THE_GRANT);
  });

  it('session ids that differ only in leading or trailing spaces (trimmed on records) keep records of their own', async () => {
    const base = `gy-space-${run}`;
    const ids = [base, ` ${base}`, `${base} `];
    for (const id of ids) {
      const lineId = await newLine();
      await sessionPastItsGrant(id, lineId);
      expect(await ask(id, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
      expect(await recordsOf(lineId), JSON.stringify(id)).toEqual([{ status: 'RATED', rejection: null, quantity: '0', charge: 'NONE' }, ...PAST_THE_GRANT]);
    }
  });
});
