/**
 * Online charging session ids are per partner (2027-01-25).
 *
 * Since 3b061f5 a session belongs to the partner that opened it, but session ids were still one space
 * for all partners: partner B's RESERVE naming an id partner A had used was refused UNKNOWN_SESSION
 * "cannot be opened: its id is in use", where a fresh id was granted. That told B that A has a session
 * with that id (an existence oracle), and two partners whose network elements make colliding ids
 * (Diameter Session-Ids are unique per origin host only; a counter-based generator collides at once)
 * could not both charge: B's legitimate call was refused.
 *
 * A session is now named by (partner, session id): A's `gy-1` and B's `gy-1` are two sessions, each
 * reserved, charged, replayed and ended on its own, and what their ids name in wallets (reservation
 * request ids) and in the record store (event ids) is the partner's too: two partners' sessions with
 * the same id on the SAME line with the same figures hold two reservations, not one shared one (wallets
 * answers a repeated request id with the reservation it made). The platform (SYSTEM, ADMIN, network
 * elements over NATS) names its own sessions by id, and a partner's session by giving `partnerId`.
 *
 * Real wallets (child process, own schema), NATS and PostgreSQL; requests over GraphQL as the partners
 * send them, and over NATS as network elements do.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Caller } from '@ledgerline/contracts';
import { dec } from '@ledgerline/contracts';
import { dropSchema, openDatabase, SYSTEM_CALLER, TEST_DATABASE_URL } from '@ledgerline/platform';
import type { ChargingSessionRequest } from '../src/application/charging-session';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);
const lineA = `lin_ppa${run}`;
const lineB = `lin_ppb${run}`;
const lineS = `lin_pps${run}`;
const accA = `acc_ppa${run}`;
const accB = `acc_ppb${run}`;
const accS = `acc_pps${run}`;

const PARTNER_A: Caller = { role: 'PARTNER', subject: 'mvno-a', partnerId: `mvno-a-${run}`, scopes: [] };
const PARTNER_B: Caller = { role: 'PARTNER', subject: 'mvno-b', partnerId: `mvno-b-${run}`, scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops', scopes: [] };

const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit validityTime finalUnitIndication usageRecordId } }`;
type Req = Omit<ChargingSessionRequest, 'sessionId'> & { partnerId?: string };

async function send(caller: Caller, sessionId: string, i: Req) {
  return oc.svc.request<any>(SESSION, { i: { sessionId, ...i } }, caller);
}

async function ask(caller: Caller, sessionId: string, i: Req) {
  const res = await send(caller, sessionId, i);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.chargingSession;
}

const unknownAnswer = (sessionId: string) => ({ sessionId, resultCode: 'UNKNOWN_SESSION', grantedUnit: null, validityTime: null, finalUnitIndication: true, usageRecordId: null });

let walletsDb: pg.Client;

/** Wallets' reservations of an account: `<status> <used>`, sorted (whatever their request ids). */
async function reservationsOf(account: string): Promise<string[]> {
  const { rows } = await walletsDb.query<{ status: string; used: string | null }>(`select status, used_units::text as used from "${oc.wallets.schema}".reservation where billing_account_id = $1`, [account]);
  return rows.map((r) => `${r.status} ${r.used === null ? '-' : dec(r.used).toFixed()}`).sort();
}

/** How many reservations of an account wallets holds (one per distinct request id). */
async function reservationCount(account: string): Promise<number> {
  const { rows } = await walletsDb.query(`select distinct request_key from "${oc.wallets.schema}".reservation where billing_account_id = $1`, [account]);
  return rows.length;
}

/** The session records of a line (source ocs): their quantities, sorted. */
async function recordsOf(lineId: string): Promise<string[]> {
  const { rows } = await oc.db.query<{ quantity: string }>(`select quantity::text from usage_record where source = 'ocs' and line_id = $1`, [lineId]);
  return rows.map((r) => dec(r.quantity).toFixed()).sort((x, y) => Number(x) - Number(y));
}

async function sessionRows(sessionId: string) {
  const { rows } = await oc.db.query(`select partner_id, state, used::text as used from charging_session where id = $1 order by partner_id nulls first`, [sessionId]);
  return rows.map((r) => ({ ...r, used: dec(r.used).toFixed() }));
}

beforeAll(async () => {
  walletsDb = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await walletsDb.connect();
  // A's customers (lineA, lineS) and B's (lineB): a partner charges only its own customers' lines (session-partner-lines.test.ts).
  await oc.postpaidLine(lineA, accA, '+4915100007621', PARTNER_A.partnerId!);
  await oc.postpaidLine(lineB, accB, '+4915100007622', PARTNER_B.partnerId!);
  await oc.postpaidLine(lineS, accS, '+4915100007623', PARTNER_A.partnerId!);
});

afterAll(async () => {
  await walletsDb?.end();
});

describe('two partners may use the same session id', () => {
  it('A and B each open, update and end their own session with the same id; each hears its own replies; B is answered as for a fresh id', async () => {
    const sessionId = `pgw.example;1;1-${run}`;
    const fresh = `pgw.example;1;2-${run}`;
    const reserveA = { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '60' };
    const reserveB = { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineB, usageType: 'DATA', requestedUnits: '30' };
    const openedA = await ask(PARTNER_A, sessionId, reserveA);
    expect(openedA).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60', finalUnitIndication: false });
    // B's RESERVE of the id A uses is answered as its RESERVE of an id nobody uses: it tells nothing of A's.
    const openedB = await ask(PARTNER_B, sessionId, reserveB);
    const openedFresh = await ask(PARTNER_B, fresh, reserveB);
    expect(openedB).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '30', finalUnitIndication: false });
    expect({ ...openedB, sessionId: '<id>' }).toEqual({ ...openedFresh, sessionId: '<id>' });

    // Retransmissions: each partner hears its own RESERVE's reply.
    expect(await ask(PARTNER_A, sessionId, reserveA), "A's RESERVE retransmitted").toEqual(openedA);
    expect(await ask(PARTNER_B, sessionId, reserveB), "B's RESERVE retransmitted").toEqual(openedB);

    const updatedA = await ask(PARTNER_A, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '40', requestedUnits: '20' });
    expect(updatedA).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '20' });
    const updatedB = await ask(PARTNER_B, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '10' });
    expect(updatedB).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await ask(PARTNER_A, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '40', requestedUnits: '20' }), "A's UPDATE retransmitted").toEqual(updatedA);

    const endA = { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '15' };
    const endB = { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '5' };
    const endedA = await ask(PARTNER_A, sessionId, endA);
    // B's session is still OPEN: A's TERMINATE ended A's only.
    expect(await sessionRows(sessionId)).toEqual([
      { partner_id: PARTNER_A.partnerId, state: 'CLOSED', used: '55' },
      { partner_id: PARTNER_B.partnerId, state: 'OPEN', used: '10' },
    ]);
    const endedB = await ask(PARTNER_B, sessionId, endB);
    expect(endedA).toMatchObject({ resultCode: 'SUCCESS', usageRecordId: expect.any(String) });
    expect(endedB).toMatchObject({ resultCode: 'SUCCESS', usageRecordId: expect.any(String) });
    expect(endedB.usageRecordId).not.toBe(endedA.usageRecordId);
    expect(await ask(PARTNER_A, sessionId, endA), "A's TERMINATE retransmitted").toEqual(endedA);
    expect(await ask(PARTNER_B, sessionId, endB), "B's TERMINATE retransmitted").toEqual(endedB);
    // A's retransmission with B's figures is not B's reply: A's session took 15 at number 2.
    expect(await ask(PARTNER_A, sessionId, endB)).toMatchObject({ resultCode: 'RATING_FAILED' });

    // Each charged on its own account, each record on its own line.
    expect(await reservationsOf(accA)).toEqual(['COMMITTED 15', 'COMMITTED 40']);
    // B's: its session's two, and its other session's (still held).
    expect(await reservationsOf(accB)).toEqual(['COMMITTED 10', 'COMMITTED 5', 'RESERVED -'].sort());
    expect(await recordsOf(lineA)).toEqual(['15', '40']);
    expect(await recordsOf(lineB)).toEqual(['5', '10']);
    expect(await sessionRows(sessionId)).toEqual([
      { partner_id: PARTNER_A.partnerId, state: 'CLOSED', used: '55' },
      { partner_id: PARTNER_B.partnerId, state: 'CLOSED', used: '15' },
    ]);
    await ask(PARTNER_B, fresh, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '0' });
  });

  it('the same id on the SAME line with the same figures: two reservations and two sets of records, not one shared', async () => {
    const sessionId = `gy-${run};7`;
    const reserve = { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineS, usageType: 'DATA', requestedUnits: '50' };
    // lineS is A's customer's: B itself may not charge it (session-partner-lines.test.ts), but the platform may open a
    // session of B's on any line (ADMIN naming B), which B then goes on with.
    expect(await ask(PARTNER_A, sessionId, reserve)).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '50' });
    expect(await ask(ADMIN, sessionId, { ...reserve, partnerId: PARTNER_B.partnerId })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '50' });
    // Wallets holds 50 for each (a reserve request id derived from the session id alone would be one reservation).
    expect(await reservationCount(accS)).toBe(2);
    expect(await reservationsOf(accS)).toEqual(['RESERVED -', 'RESERVED -']);

    // A ends after 20; B goes on: its own 30 committed on its own reservation, which A's end did not touch.
    expect(await ask(PARTNER_A, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '20' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await reservationsOf(accS)).toEqual(['COMMITTED 20', 'RESERVED -']);
    // More units for B's session on A's customer's line: the platform's to grant (B's own request would be USER_UNKNOWN).
    expect(await ask(ADMIN, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '30', requestedUnits: '10', partnerId: PARTNER_B.partnerId })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await ask(PARTNER_B, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '5' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await reservationsOf(accS)).toEqual(['COMMITTED 20', 'COMMITTED 30', 'COMMITTED 5']);
    // Every unit reported is on a record of its own (a shared event id would have dropped B's as a duplicate of A's).
    expect(await recordsOf(lineS)).toEqual(['5', '20', '30']);
    const { rows } = await oc.db.query(`select event_id from usage_record where source = 'ocs' and line_id = $1`, [lineS]);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(3);
  });

  it('B can neither see nor touch A\'s session: its UPDATE or TERMINATE of an id only A uses is answered as for an unknown one', async () => {
    const sessionId = `gy-${run};9`;
    expect(await ask(PARTNER_A, sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '20' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await ask(PARTNER_B, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '10' })).toEqual(unknownAnswer(sessionId));
    expect(await ask(PARTNER_B, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '10' })).toEqual(unknownAnswer(sessionId));
    expect(await sessionRows(sessionId)).toEqual([{ partner_id: PARTNER_A.partnerId, state: 'OPEN', used: '0' }]);
    // A partner cannot name another partner's sessions by partnerId; its own partnerId is its own.
    const forbidden = await send(PARTNER_B, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '10', partnerId: PARTNER_A.partnerId });
    expect(forbidden.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(await sessionRows(sessionId)).toEqual([{ partner_id: PARTNER_A.partnerId, state: 'OPEN', used: '0' }]);
    expect(await ask(PARTNER_A, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '10', partnerId: PARTNER_A.partnerId })).toMatchObject({ resultCode: 'SUCCESS' });
  });
});

describe('the platform names a partner\'s session by its partnerId', () => {
  it('SYSTEM, ADMIN and NATS give partnerId for a partner\'s session; without it they name the platform\'s own sessions', async () => {
    const sessionId = `gy-${run};11`;
    expect(await ask(PARTNER_A, sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '50' })).toMatchObject({ resultCode: 'SUCCESS' });
    // Without partnerId: the platform's session with that id, which does not exist.
    expect(await ask(ADMIN, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '10' })).toEqual(unknownAnswer(sessionId));
    expect(await oc.ask(sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '10' })).toMatchObject({ resultCode: 'UNKNOWN_SESSION' });
    // With it: A's session.
    expect(await ask(ADMIN, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '10', partnerId: PARTNER_A.partnerId })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await ask(SYSTEM_CALLER, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '5', requestedUnits: '10', partnerId: PARTNER_A.partnerId })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await oc.ask(sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 3, usedUnits: '7', partnerId: PARTNER_A.partnerId } as Req)).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await sessionRows(sessionId)).toEqual([{ partner_id: PARTNER_A.partnerId, state: 'CLOSED', used: '22' }]);

    // The platform's own session with the same id: a third session, no partner's.
    expect(await oc.ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineB, usageType: 'DATA', requestedUnits: '20' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '20' });
    expect(await ask(ADMIN, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '3' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await sessionRows(sessionId)).toEqual([{ partner_id: null, state: 'CLOSED', used: '3' }, { partner_id: PARTNER_A.partnerId, state: 'CLOSED', used: '22' }]);

    // ADMIN opens a session on B's behalf: B's to go on with.
    const forB = `gy-${run};12`;
    expect(await ask(ADMIN, forB, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineB, usageType: 'DATA', requestedUnits: '10', partnerId: PARTNER_B.partnerId })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await ask(PARTNER_B, forB, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '4' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await sessionRows(forB)).toEqual([{ partner_id: PARTNER_B.partnerId, state: 'CLOSED', used: '4' }]);
  });

  it('a partnerId that is blank or not text is bad input', async () => {
    const res = await send(ADMIN, `gy-${run};13`, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '10', partnerId: '  ' });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await oc.ask(`gy-${run};13`, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '10', partnerId: 7 } as unknown as Req)).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('partnerId') });
    expect(await sessionRows(`gy-${run};13`)).toEqual([]);
    // The platform's own sessions may not take the names partners' sessions' ids are given (sessionRef): no collision.
    const partnerish = `partner:${encodeURIComponent(PARTNER_A.partnerId!)}:gy-${run};13`;
    const named = await send(ADMIN, partnerish, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '10' });
    expect(named.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.sessionId' });
    expect(await oc.ask(partnerish, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '10' })).toMatchObject({ resultCode: 'RATING_FAILED' });
    expect(await sessionRows(partnerish)).toEqual([]);
  });

  it('the idle sweeper closes one partner\'s silent session, not another partner\'s with the same id', async () => {
    const sessionId = `gy-${run};14`;
    const reserve = { operation: 'RESERVE', invocationSequenceNumber: 0, usageType: 'DATA', requestedUnits: '25' };
    expect(await ask(PARTNER_A, sessionId, { ...reserve, lineId: lineA })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await ask(PARTNER_B, sessionId, { ...reserve, lineId: lineB })).toMatchObject({ resultCode: 'SUCCESS' });
    await oc.db.query(`update charging_session set updated_at = updated_at - interval '1 hour' where id = $1 and partner_id = $2`, [sessionId, PARTNER_A.partnerId]);
    await oc.sweep();
    expect(await sessionRows(sessionId)).toEqual([
      { partner_id: PARTNER_A.partnerId, state: 'TIMED_OUT', used: '0' },
      { partner_id: PARTNER_B.partnerId, state: 'OPEN', used: '0' },
    ]);
    // B's reservation still held: B goes on within it.
    expect(await ask(PARTNER_B, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '25' })).toMatchObject({ resultCode: 'SUCCESS' });
    // A's is closed: its late report grants nothing.
    expect(await ask(PARTNER_A, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '0', requestedUnits: '5' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: null, finalUnitIndication: true });
    expect(await sessionRows(sessionId)).toEqual([
      { partner_id: PARTNER_A.partnerId, state: 'TIMED_OUT', used: '0' },
      { partner_id: PARTNER_B.partnerId, state: 'CLOSED', used: '25' },
    ]);
  });
});

describe('sessions stored before ids were per partner keep working', () => {
  it('a session of unknown opener stays anyone\'s by id; a partner\'s from before keeps its ids and the platform\'s access by id', async () => {
    // Opened before openers were recorded: anyone's, by its id alone (as it was).
    const legacy = `gy-${run};20`;
    // On B's customer's line: B's UPDATE asks for more units, which only its own customers' lines are granted.
    expect(await oc.ask(legacy, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineB, usageType: 'DATA', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS' });
    await oc.db.query(`update charging_session set partner_id = null, opener_recorded = false, ref = null where id = $1`, [legacy]);
    expect(await ask(PARTNER_B, legacy, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await ask(PARTNER_A, legacy, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '5' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await oc.reservations(legacy)).toEqual({ [`${legacy}#0`]: 'COMMITTED 10', [`${legacy}#1`]: 'COMMITTED 5' });
    expect(await oc.records(legacy)).toEqual({ [`${legacy}#1`]: '10' });

    // Opened by partner A after sessions were bound, before ids were per partner: its ids are its session id's
    // (wallets' `<id>#<n>`, records `<id>#<n>`), and it goes on with them.
    const window = `gy-${run};21`;
    expect(await oc.ask(window, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS' });
    await oc.db.query(`update charging_session set partner_id = $2, partner_key = $2, opener_recorded = true, ref = null where id = $1`, [window, PARTNER_A.partnerId]);
    expect(await ask(PARTNER_A, window, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await oc.reservations(window)).toEqual({ [`${window}#0`]: 'COMMITTED 10', [`${window}#1`]: expect.stringMatching(/^RESERVED/) });
    // B's session with that id is B's own: nothing of A's touched.
    expect(await ask(PARTNER_B, window, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineB, usageType: 'DATA', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    expect(await oc.reservations(window)).toEqual({ [`${window}#0`]: 'COMMITTED 10', [`${window}#1`]: expect.stringMatching(/^RESERVED/) });
    // The platform reaches it by id alone, as it did then (and opens no second session under that id).
    expect(await ask(ADMIN, window, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '3', requestedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await ask(PARTNER_A, window, { operation: 'TERMINATE', invocationSequenceNumber: 3, usedUnits: '2' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await oc.reservations(window)).toEqual({ [`${window}#0`]: 'COMMITTED 10', [`${window}#1`]: 'COMMITTED 3', [`${window}#2`]: 'COMMITTED 2' });
    expect(await oc.records(window)).toEqual({ [`${window}#1`]: '10', [`${window}#2`]: '3' });
    expect(await ask(PARTNER_B, window, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '1' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await sessionRows(window)).toEqual([
      { partner_id: PARTNER_A.partnerId, state: 'CLOSED', used: '15' },
      { partner_id: PARTNER_B.partnerId, state: 'CLOSED', used: '1' },
    ]);
  });

  it('the migration keys sessions by (partner, id): rows from before keep their partner, their ids and their replies', async () => {
    const schema = `t_${randomBytes(4).toString('hex')}_usagesess`;
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path="${schema}"` });
    const open = (list: typeof migrations) => openDatabase({ service: 'usage', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '/nonexistent', entities, migrations: list });
    try {
      const mine = migrations.findIndex((m) => m.name.startsWith('Migration20270125000000_'));
      expect(mine).toBeGreaterThan(0);
      const before = await open(migrations.slice(0, mine));
      await before.close(true);
      await db.connect();
      const row = (id: string, partner: string | null, recorded: boolean) => db.query(
        `insert into charging_session (id, line_id, billing_account_id, usage_type, state, granted, used, context, started_at, updated_at, sequence_number, last_request, last_reply, partner_id, opener_recorded)
         values ($1, 'lin_x', 'acc_x', 'DATA', 'OPEN', 10, 0, '{}', now(), now(), 0, 'f', '{"resultCode":"SUCCESS"}', $2, $3)`, [id, partner, recorded]);
      await row('old-1', null, false);
      await row('old-2', 'mvno-a', true);
      await row('old-3', null, true);
      const after = await open(migrations);
      await after.close(true);
      const { rows } = await db.query(`select id, partner_key, partner_id, opener_recorded, ref, last_reply from charging_session order by id`);
      expect(rows).toEqual([
        { id: 'old-1', partner_key: '', partner_id: null, opener_recorded: false, ref: null, last_reply: '{"resultCode":"SUCCESS"}' },
        { id: 'old-2', partner_key: 'mvno-a', partner_id: 'mvno-a', opener_recorded: true, ref: null, last_reply: '{"resultCode":"SUCCESS"}' },
        { id: 'old-3', partner_key: '', partner_id: null, opener_recorded: true, ref: null, last_reply: '{"resultCode":"SUCCESS"}' },
      ]);
      // Another partner's session with an id in use is a row of its own; the same partner's twice is refused.
      await db.query(`insert into charging_session (partner_key, partner_id, id, line_id, billing_account_id, usage_type, state, context, started_at, updated_at, opener_recorded) values ('mvno-b', 'mvno-b', 'old-2', 'l', 'a', 'DATA', 'OPEN', '{}', now(), now(), true)`);
      await expect(db.query(`insert into charging_session (partner_key, partner_id, id, line_id, billing_account_id, usage_type, state, context, started_at, updated_at, opener_recorded) values ('mvno-a', 'mvno-a', 'old-2', 'l', 'a', 'DATA', 'OPEN', '{}', now(), now(), true)`)).rejects.toThrow(/duplicate key/);
    } finally {
      await db.end().catch(() => undefined);
      await dropSchema(schema);
    }
  });
});
