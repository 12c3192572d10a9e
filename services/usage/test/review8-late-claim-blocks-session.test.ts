/**
 * Review 8: a late report whose own claim is left unanswered blocks every later report of the
 * session, and their units are never charged.
 *
 * 2e32922 made a later report n+1 finish an unanswered claim n before taking the session on past it
 * (ADR 0014: "sending n+1 means it is done with n"), but only for a claim made while the session was
 * OPEN. A claim made by a late report (fingerprint marked LATE, on a TIMED_OUT session) that crashed
 * between its claim and its reply write (or is still running when the network element, having given
 * up on it, sends n+1) is still met with `RATING_FAILED ... is not answered yet`
 * (charging-session.ts, the `existing.last_request?.startsWith(LATE)` refusal): n+1 is refused, so is
 * n+2, and so on. Nothing it reports is charged: the units are used and never billed. A late claim is
 * even simpler to finish than an OPEN one (no reservation: its units are one usage record, idempotent
 * by `<session>#<n>:unreserved`), so n+1 can finish it the same way.
 *
 * Against the real wallets service (child process) on a private nats-server, as
 * late-report-takes-over-pending-claim.test.ts; the crash is forced by a statement hook on the usage pool.
 */
import { describe, expect, it } from 'vitest';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const { ask, sweep, silence, records } = oc;
const run = Math.random().toString(36).slice(2, 8);
/** The write of a late report's reply (charging-session.ts): the end of its crash window, after its units were charged. */
const LATE_REPLY_WRITE = 'update charging_session set last_reply = $2';

describe('a late report whose claim was left unanswered', () => {
  it('does not block the session: the next report is answered and its units charged', async () => {
    const lineId = `lin_r8lc${run}`;
    const account = `acc_r8lc${run}`;
    await oc.postpaidLine(lineId, account, '+4915100008810');
    const sessionId = `gy-r8-late-claim-${run}`;
    expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    // The network element goes silent; the sweeper closes the session.
    await silence(sessionId);
    expect(await sweep()).toBe(1);

    // Late UPDATE 1: claimed (LATE), its 25 MB charged as usage, then usage crashes before writing its reply.
    oc.hook.once(LATE_REPLY_WRITE, async () => {
      throw new Error('usage crashed before writing the late reply');
    });
    expect(await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '25', requestedUnits: '40' })).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringMatching(/^internal error \(reference [0-9a-f-]{36}\)$/) });
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1:unreserved`]: '25' });

    // The network element never got that reply and goes on (ADR 0014: sending n+1 means it is done with n).
    const second = await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '15', requestedUnits: '40' });
    const third = await ask(sessionId, { operation: 'TERMINATE', invocationSequenceNumber: 3, usedUnits: '5' });
    expect({ second: second.resultCode, third: third.resultCode, records: await records(sessionId) }, JSON.stringify([second, third])).toEqual({
      second: 'SUCCESS',
      third: 'SUCCESS',
      records: { [`${sessionId}#1:unreserved`]: '25', [`${sessionId}#2:unreserved`]: '15', [`${sessionId}#3:unreserved`]: '5' },
    });
  });
});
