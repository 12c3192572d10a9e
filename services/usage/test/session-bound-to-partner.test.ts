/**
 * An online charging session belongs to the partner that opened it (security review, 2026-11-30).
 *
 * GraphQL `chargingSession` is open to SYSTEM, ADMIN and PARTNER (a network element operator or MVNO
 * partner: role PARTNER with a partnerId). Sessions were not tied to their caller: any partner could
 * send an UPDATE or TERMINATE for any `sessionId` - ending another partner's live session (its
 * reservation committed, the call cut) - or read back another partner's stored reply by repeating its
 * request (ADR 14 replays the reply of the last number handled).
 *
 * Now the session row keeps the opener's partnerId (null when SYSTEM, ADMIN or a network element over
 * NATS - trusted, inside the platform: NATS's `network` user, no caller identity - opened it). An
 * UPDATE, TERMINATE or repeated request from another PARTNER is answered exactly as one for a session
 * that does not exist (UNKNOWN_SESSION, nothing granted), reserves, commits and records nothing, and
 * its message names nothing of the other partner's session. SYSTEM, ADMIN and NATS act on any session
 * (operations; since session ids are per partner, 2027-01-25, they name a partner's by giving its
 * partnerId, and another partner's RESERVE of the id opens a session of its own: session-ids-per-partner.test.ts).
 * A session opened before the binding (no opener recorded) stays usable by anyone.
 *
 * Real wallets (child process, own schema), NATS and PostgreSQL; requests over GraphQL as the two
 * partners send them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { SYSTEM_CALLER } from '@ledgerline/platform';
import { handleChargingSession, sessionRef, type ChargingSessionRequest } from '../src/application/charging-session';
import { usageRuntimeOf } from '../src/usage-runtime';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);
const lineA = `lin_pba${run}`;
const lineB = `lin_pbb${run}`;

const PARTNER_A: Caller = { role: 'PARTNER', subject: 'mvno-a', partnerId: `mvno-a-${run}`, scopes: [] };
const PARTNER_B: Caller = { role: 'PARTNER', subject: 'mvno-b', partnerId: `mvno-b-${run}`, scopes: [] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops', scopes: [] };

const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit validityTime finalUnitIndication usageRecordId } }`;

/** What partner A's session's ids outside its row (wallets' reservations, its records) are named by. */
const refA = (sessionId: string) => sessionRef(PARTNER_A.partnerId!, sessionId);

async function ask(caller: Caller, sessionId: string, i: Omit<ChargingSessionRequest, 'sessionId'>) {
  const res = await oc.svc.request<any>(SESSION, { i: { sessionId, ...i } }, caller);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.chargingSession;
}

/** What a session that does not exist answers (over GraphQL): nothing granted, the session's end told. */
const unknownAnswer = (sessionId: string) => ({ sessionId, resultCode: 'UNKNOWN_SESSION', grantedUnit: null, validityTime: null, finalUnitIndication: true, usageRecordId: null });

/** Everything a request could have changed: the session row, wallets' reservations, the session's records (`ref`: what its ids are named by). */
async function footprint(sessionId: string, ref = sessionId) {
  const { rows: [row] } = await oc.db.query(`select state, used::text, granted::text, sequence_number, last_request, last_reply, updated_at, context from charging_session where id = $1`, [sessionId]);
  const { rows: closing } = await oc.db.query(`select event_id from usage_record where source = 'ocs' and event_id = $1`, [ref]);
  return { row, reservations: await oc.reservations(ref), records: await oc.records(ref), closing: closing.length };
}

beforeAll(async () => {
  // A's customer and B's customer (a partner charges only its own customers' lines: session-partner-lines.test.ts).
  await oc.postpaidLine(lineA, `acc_pba${run}`, '+4915100007611', PARTNER_A.partnerId!);
  await oc.postpaidLine(lineB, `acc_pbb${run}`, '+4915100007612', PARTNER_B.partnerId!);
});

describe("a partner cannot act on another partner's charging session", () => {
  it("another partner's UPDATE, TERMINATE or repeated request is answered as for an unknown session: nothing granted, charged or ended", async () => {
    const sessionId = `gy-pb-1-${run}`;
    const reserve = { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '60' };
    expect(await ask(PARTNER_A, sessionId, reserve)).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60', finalUnitIndication: false });
    const before = await footprint(sessionId, refA(sessionId));
    expect(before.reservations).toEqual({ [`${refA(sessionId)}#0`]: expect.stringMatching(/^RESERVED/) });

    // (B's RESERVE of the id opens a session of B's own, touching nothing of A's: session-ids-per-partner.test.ts.)
    const attempts: [string, Omit<ChargingSessionRequest, 'sessionId'>][] = [
      ['an UPDATE', { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '40', requestedUnits: '20' }],
      ['a TERMINATE', { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '40' }],
      ['an out-of-turn UPDATE', { operation: 'UPDATE', invocationSequenceNumber: 7, usedUnits: '1' }],
    ];
    const answers: [string, unknown][] = [];
    for (const [what, req] of attempts) answers.push([what, await ask(PARTNER_B, sessionId, req)]);
    // Nothing moved: A's reservation still held, nothing committed or recorded, the session where A left it.
    expect(await footprint(sessionId, refA(sessionId)), "A's session after partner B's requests").toEqual(before);
    // Each answered as partner B is answered for a session that does not exist at all.
    const none = `gy-pb-none-${run}`;
    expect(await ask(PARTNER_B, none, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '40', requestedUnits: '20' })).toEqual(unknownAnswer(none));
    for (const [what, answer] of answers) expect(answer, `partner B sends ${what}`).toEqual(unknownAnswer(sessionId));

    // A goes on as if nothing happened.
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '40', requestedUnits: '20' };
    const updated = await ask(PARTNER_A, sessionId, update);
    expect(updated).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '20' });
    expect(await ask(PARTNER_B, sessionId, update), "partner B repeats A's UPDATE").toEqual(unknownAnswer(sessionId));
    const terminate = { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '15' };
    const ended = await ask(PARTNER_A, sessionId, terminate);
    expect(ended).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true, usageRecordId: expect.any(String) });
    expect(await ask(PARTNER_B, sessionId, terminate), "partner B repeats A's TERMINATE: not A's reply (its record id)").toEqual(unknownAnswer(sessionId));
    expect(await ask(PARTNER_A, sessionId, terminate), 'A repeats its TERMINATE').toEqual(ended);

    const after = await footprint(sessionId, refA(sessionId));
    expect(after.reservations).toEqual({ [`${refA(sessionId)}#0`]: 'COMMITTED 40', [`${refA(sessionId)}#1`]: 'COMMITTED 15' });
    expect(after.records).toEqual({ [`${refA(sessionId)}#1`]: '40' });
    expect(after.closing).toBe(1);
    expect(after.row.state).toBe('CLOSED');
    const { rows: [owner] } = await oc.db.query(`select partner_id from charging_session where id = $1`, [sessionId]);
    expect(owner.partner_id).toBe(PARTNER_A.partnerId);
  });

  it("the refusal's message is the unknown session's: nothing of the other partner's session", async () => {
    const sessionId = `gy-pb-2-${run}`;
    expect(await ask(PARTNER_A, sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '30' })).toMatchObject({ resultCode: 'SUCCESS' });
    const none = `gy-pb-none2-${run}`;
    const usage = usageRuntimeOf(oc.svc.runtime);
    const asB = (id: string, req: Omit<ChargingSessionRequest, 'sessionId'>) => handleChargingSession(usage, oc.nc, { sessionId: id, ...req }, new Date(), { partnerId: PARTNER_B.partnerId! });
    for (const req of [{ operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '10' }, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '10' }]) {
      const foreign = await asB(sessionId, req);
      const unknown = await asB(none, req);
      expect({ ...foreign, message: foreign.message?.replaceAll(sessionId, '<id>') }).toEqual({ ...unknown, sessionId, message: unknown.message?.replaceAll(none, '<id>') });
      for (const detail of ['OPEN', lineA, PARTNER_A.partnerId!, 'invocationSequenceNumber']) expect(foreign.message).not.toContain(detail);
    }
    expect(await oc.reservations(refA(sessionId))).toEqual({ [`${refA(sessionId)}#0`]: expect.stringMatching(/^RESERVED/) });
    expect(await ask(PARTNER_A, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS' });
  });

  it('SYSTEM, ADMIN and network elements over NATS act on any session (a partner\'s named by its partnerId); a session the platform opened is not a partner\'s', async () => {
    // A partner's session, carried on by operations and by the network over NATS, naming its partner.
    const partners = `gy-pb-3-${run}`;
    const ofA = { partnerId: PARTNER_A.partnerId };
    expect(await ask(PARTNER_A, partners, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '50' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '50' });
    expect(await ask(ADMIN, partners, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '10', ...ofA })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await ask(SYSTEM_CALLER, partners, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '5', requestedUnits: '10', ...ofA })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await oc.ask(partners, { operation: 'TERMINATE', invocationSequenceNumber: 3, usedUnits: '7', ...ofA })).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(await oc.reservations(refA(partners))).toEqual({ [`${refA(partners)}#0`]: 'COMMITTED 10', [`${refA(partners)}#1`]: 'COMMITTED 5', [`${refA(partners)}#2`]: 'COMMITTED 7' });

    // Sessions opened by SYSTEM over GraphQL and by a network element over NATS: no partner's, so no partner's to end.
    const system = `gy-pb-4-${run}`;
    const network = `gy-pb-5-${run}`;
    expect(await ask(SYSTEM_CALLER, system, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineB, usageType: 'DATA', requestedUnits: '20' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await oc.ask(network, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineB, usageType: 'DATA', requestedUnits: '20' })).toMatchObject({ resultCode: 'SUCCESS' });
    for (const sessionId of [system, network]) {
      const before = await footprint(sessionId);
      expect(await ask(PARTNER_B, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '20' })).toEqual(unknownAnswer(sessionId));
      expect(await footprint(sessionId)).toEqual(before);
      expect(await ask(ADMIN, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '20' })).toMatchObject({ resultCode: 'SUCCESS' });
    }
    const { rows } = await oc.db.query(`select id, partner_id from charging_session where id = any($1) order by id`, [[partners, system, network]]);
    expect(rows).toEqual([{ id: partners, partner_id: PARTNER_A.partnerId }, { id: system, partner_id: null }, { id: network, partner_id: null }]);
  });

  it('a PARTNER token without a partnerId cannot use charging sessions (its session could not be bound)', async () => {
    const res = await oc.svc.request<any>(SESSION, { i: { sessionId: `gy-pb-6-${run}`, operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineA, usageType: 'DATA', requestedUnits: '10' } }, { role: 'PARTNER', subject: 'feed', scopes: [] });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    expect(await oc.reservations(`gy-pb-6-${run}`)).toEqual({});
  });

  it('a session opened before sessions were bound (no opener recorded) stays usable by anyone, as before', async () => {
    const sessionId = `gy-pb-7-${run}`;
    // On B's customer's line: B's UPDATE asks for more units, which only its own customers' lines are granted.
    expect(await oc.ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId: lineB, usageType: 'DATA', requestedUnits: '40' })).toMatchObject({ resultCode: 'SUCCESS' });
    // As the migrations leave a row stored before them (no opener recorded; ids named by the session id).
    await oc.db.query(`update charging_session set partner_id = null, opener_recorded = false, ref = null where id = $1`, [sessionId]);
    expect(await ask(PARTNER_B, sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '10', requestedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await ask(PARTNER_A, sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '5' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await oc.reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 10', [`${sessionId}#1`]: 'COMMITTED 5' });
  });
});
