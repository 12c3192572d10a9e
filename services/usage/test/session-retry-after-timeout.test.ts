/**
 * A retried report of a session the idle sweeper closed in between (found in review, eleventh
 * session; the first two tests fail on the old code). An UPDATE claims its number, commits the
 * last reservation, is granted a new one (`<session>#<n>`) and crashes before it writes the session
 * row; the session, silent since the claim, is closed TIMED_OUT by closeStaleSessions, which knows
 * only the reservation the row names (committed already). Then:
 * - the retry after the close was refused ("not completed before the session was TIMED_OUT") and
 *   the reservation the crashed attempt was granted stayed held until wallets' expiry (300 s, the
 *   customer's units or money unavailable meanwhile);
 * - a retry that had read the session OPEN and resumed, when the sweeper closed it before the retry
 *   wrote its reply, got that reservation again from wallets (or made it), could not store it
 *   (the session was no longer OPEN) and left it held the same way.
 * Now a request that finds its session closed under it (its claim unanswered on a TIMED_OUT row)
 * finishes as a late report: what was used is charged once (the commit's first figures; nothing is
 * charged again), the reservation it made or found by its request id is released, and it is answered
 * SUCCESS with nothing granted (a retransmission gets the same reply). The third test is the other
 * order (the retry first, then the sweeper), which already held nothing.
 *
 * Against the real wallets service (child process, own schema) on a private nats-server; the usage
 * service runs the session responder only (no sweeper of its own), requests go over NATS as a network
 * element sends them. The crash is forced: the usage pool's write of the UPDATE's reply throws once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ChargingSessionRequest } from '../src/application/charging-session';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const { ask, sweep, silence, reservations, records } = oc;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_srt${run}`;
const account = `acc_srt${run}`;

/** What the usage pool does just before it writes an OPEN session's reply (once): throw (a crash) or run something first. */
const beforeReplyWrite = (hook: () => Promise<void>) => oc.hook.once('update charging_session set state = $2', hook);

beforeAll(async () => {
  await oc.postpaidLine(lineId, account, '+4915100007461');
});

/** A session that reserved 60 MB, then an UPDATE (60 used, 40 more) that wallets answered and that crashed before its reply was stored. */
async function crashedUpdate(name: string): Promise<{ sessionId: string; update: Omit<ChargingSessionRequest, 'sessionId'> }> {
  const sessionId = `gy-${name}-${run}`;
  expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
  const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '40' };
  beforeReplyWrite(async () => {
    throw new Error('usage crashed before writing the session row');
  });
  expect(await ask(sessionId, update)).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringMatching(/^internal error \(reference [0-9a-f-]{36}\)$/) });
  // Wallets committed the 60 and holds the 40 granted to the crashed attempt.
  expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'RESERVED -' });
  await silence(sessionId);
  return { sessionId, update };
}

const LATE_REPLY = { resultCode: 'SUCCESS', finalUnitIndication: true };

describe('a retried report and the idle sweeper: no reservation is left held for a closed session', () => {
  it('the sweeper closes the session before the retry: the retry is a late report, the crashed attempt\'s reservation is released, the 60 MB charged once', async () => {
    const { sessionId, update } = await crashedUpdate('swept-first');
    expect(await sweep()).toBe(1);
    const retry = await ask(sessionId, update);
    expect(await reservations(sessionId), 'nothing held for the closed session').toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });
    expect(retry).toMatchObject(LATE_REPLY);
    expect(retry.grantedUnit ?? null).toBeNull();
    // Charged once: through the first reservation, nothing as unreserved usage.
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60' });
    // A retransmission gets the same reply and changes nothing.
    expect(await ask(sessionId, update)).toEqual(retry);
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });
    expect((await oc.db.query(`select state, granted::text as granted from charging_session where id = $1`, [sessionId])).rows).toEqual([{ state: 'TIMED_OUT', granted: '0.000000' }]);
  });

  it('the sweeper closes the session while the retry runs (after wallets granted it, before its reply is stored): the retry releases what it was granted', async () => {
    const { sessionId, update } = await crashedUpdate('swept-during');
    let closed = -1;
    beforeReplyWrite(async () => {
      closed = await sweep();
    });
    const retry = await ask(sessionId, update);
    expect(closed).toBe(1);
    expect(await reservations(sessionId), 'nothing held for the closed session').toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });
    expect(retry).toMatchObject(LATE_REPLY);
    expect(retry.grantedUnit ?? null).toBeNull();
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60' });
    expect(await ask(sessionId, update)).toEqual(retry);
    // A later report is charged as usage (nothing held to charge it through), once.
    expect(await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '15', requestedUnits: '40' })).toMatchObject(LATE_REPLY);
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60', [`${sessionId}#2:unreserved`]: '15' });
    expect(Object.values(await reservations(sessionId)).filter((s) => s.startsWith('RESERVED'))).toEqual([]);
  });

  it('the retry before the sweeper: the session keeps the reservation, and the sweeper releases it when the session goes silent', async () => {
    const { sessionId, update } = await crashedUpdate('retry-first');
    expect(await ask(sessionId, update)).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'RESERVED -' });
    await silence(sessionId);
    expect(await sweep()).toBe(1);
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60' });
  });
});
