/**
 * A late report n+1 on a session the idle sweeper closed while number n was claimed and not answered
 * (found in review, 2026-11-27; the three tests fail on the old code). UPDATE n claims its number,
 * commits the last reservation and is granted a new one, `<session>#<n>`, by wallets; then either its
 * process crashes before the session write, or it is still running. The sweeper closes the session
 * (TIMED_OUT) and releases the reservation the row names, which is n-1's, committed already: it does
 * not know `<session>#<n>`. A late report n+1 then comes. The old code let it take the number over
 * from n's claim: its units were charged as usage, but nobody was left to release `<session>#<n>`
 * (a retry of n was out of turn from then on; n still running was refused at its write), so wallets
 * held the 40 MB until its expiry job, 300 s later: the customer's bundle looked 40 MB short.
 *
 * Now n+1 finishes n first, as n's retry would (ADR 0014): n's request is read back from the claim's
 * fingerprint, its commit repeated (wallets answers the first commit's figures, nothing is charged
 * twice), `<session>#<n>` found again by its request id and released, n's late reply stored; then n+1
 * claims its number. n's units are charged once through its commit, n+1's once as usage, and nothing
 * is held for the closed session. When n is still running and the finishing rates otherwise (the line
 * suspended in between: no new grant asked, so `<session>#<n>` not found), n's attempt releases its
 * own grant when it finds the session taken on past its number.
 *
 * Against the real wallets service (child process, own schema) on a private nats-server; requests go
 * over NATS as a network element sends them. The crash window is forced by a statement hook on the
 * usage pool (the write of an OPEN session's reply).
 */
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { ChargingSessionReply } from '../src/application/charging-session';
import { setLine, waitFor } from './support';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const { ask, sweep, silence, reservations, records } = oc;
const run = Math.random().toString(36).slice(2, 8);
/** The write of an OPEN session's reply (charging-session.ts), the end of the crash window after wallets' grant. */
const REPLY_WRITE = 'update charging_session set state = $2';

/** A postpaid line of its own (20 GB data bucket in wallets), so each test reads its own bucket. */
async function line(name: string): Promise<{ lineId: string; account: string }> {
  const lineId = `lin_ltp${name}${run}`;
  const account = `acc_ltp${name}${run}`;
  await oc.postpaidLine(lineId, account, `+49151000075${'abc'.indexOf(name) + 1}0`);
  return { lineId, account };
}

/** What the customer sees of the data bucket in wallets (MB left). */
async function dataLeft(account: string): Promise<string> {
  const { buckets } = await oc.wallets.gql<{ buckets: { allowanceId: string; remaining: string }[] }>(`query($id: ID!) { buckets(billingAccountId: $id) { allowanceId remaining } }`, { id: account });
  return dec(buckets.find((b) => b.allowanceId === 'data')!.remaining).toFixed();
}

const UPDATE_1 = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '40' };
const LATE_2 = { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '15', requestedUnits: '40' };
const LATE_REPLY = { resultCode: 'SUCCESS', finalUnitIndication: true };

describe('a late report taking over a number still claimed: the claim\'s reservation is released, once', () => {
  it('UPDATE 1 crashed between wallets\' grant and the session write, the sweeper closed the session, then the late UPDATE 2', async () => {
    const { lineId, account } = await line('a');
    const sessionId = `gy-ltp-crash-${run}`;
    expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    oc.hook.once(REPLY_WRITE, async () => {
      throw new Error('usage crashed before writing the session row');
    });
    expect(await ask(sessionId, UPDATE_1)).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringMatching(/^internal error \(reference [0-9a-f-]{36}\)$/) });
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'RESERVED -' });
    expect(await dataLeft(account), '60 used, 40 held for the crashed attempt').toBe('20380');
    await silence(sessionId);
    expect(await sweep()).toBe(1);

    // The network element never got UPDATE 1's reply; its next report comes after the close.
    const late = await ask(sessionId, LATE_2);
    expect(late).toMatchObject(LATE_REPLY);
    expect(late.grantedUnit ?? null).toBeNull();
    expect(await reservations(sessionId), 'nothing held for the closed session').toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });
    // UPDATE 1's 60 MB charged once (its commit), UPDATE 2's 15 MB once, as usage.
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60', [`${sessionId}#2:unreserved`]: '15' });
    expect(await waitFor(async () => (await dataLeft(account)) === '20405' && '20405', 30_000, 'the 15 MB charged and the 40 MB back in the bucket')).toBe('20405');

    // A retransmission of UPDATE 2 gets its stored reply; UPDATE 1 again is out of turn (ADR 0014). Neither changes anything.
    expect(await ask(sessionId, LATE_2)).toEqual(late);
    expect(await ask(sessionId, UPDATE_1)).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('out of turn') });
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60', [`${sessionId}#2:unreserved`]: '15' });
    expect((await oc.db.query(`select state, sequence_number, granted::text as granted from charging_session where id = $1`, [sessionId])).rows).toEqual([{ state: 'TIMED_OUT', sequence_number: 2, granted: '0.000000' }]);
    expect(await dataLeft(account)).toBe('20405');
  });

  it('UPDATE 1 still running (granted, its session write not done) when the sweeper closes the session and the late UPDATE 2 comes', async () => {
    const { lineId, account } = await line('b');
    const sessionId = `gy-ltp-inflight-${run}`;
    expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    let late: ChargingSessionReply | undefined;
    let held: Record<string, string> = {};
    oc.hook.once(REPLY_WRITE, async () => {
      held = await reservations(sessionId);
      await silence(sessionId);
      expect(await sweep()).toBe(1);
      late = await ask(sessionId, LATE_2);
    });
    const first = await ask(sessionId, UPDATE_1);
    expect(held, 'UPDATE 1 had been granted its reservation').toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'RESERVED -' });
    expect(late).toMatchObject(LATE_REPLY);
    expect(late!.grantedUnit ?? null).toBeNull();
    expect(await reservations(sessionId), 'nothing held for the closed session').toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });
    // UPDATE 1 ends after the late report took its session on: refused (the network element gave up on it), nothing granted.
    expect(first).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('taken over by a later report (2)') });
    expect(first.grantedUnit ?? null).toBeNull();
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60', [`${sessionId}#2:unreserved`]: '15' });
    expect(await ask(sessionId, LATE_2)).toEqual(late);
    expect(await waitFor(async () => (await dataLeft(account)) === '20405' && '20405', 30_000, 'the 15 MB charged and the 40 MB back in the bucket')).toBe('20405');
  });

  it('UPDATE 1 still running when its line is suspended and the session closed: the late UPDATE 2 finishes it without a grant, UPDATE 1 releases its own', async () => {
    const { lineId, account } = await line('c');
    const sessionId = `gy-ltp-suspended-${run}`;
    expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    let late: ChargingSessionReply | undefined;
    oc.hook.once(REPLY_WRITE, async () => {
      // Suspended after wallets granted UPDATE 1 its 40 MB: finishing UPDATE 1 now is denied more units, so it
      // never asks wallets for `<session>#1` and does not know the reservation the running attempt holds.
      await setLine(oc.svc, { lineId, msisdn: `+4915100007530`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', status: 'SUSPENDED', at: new Date().toISOString() });
      await silence(sessionId);
      expect(await sweep()).toBe(1);
      late = await ask(sessionId, LATE_2);
    });
    const first = await ask(sessionId, UPDATE_1);
    expect(late).toMatchObject(LATE_REPLY);
    expect(await reservations(sessionId), 'nothing held for the closed session').toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });
    expect(first).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringContaining('taken over by a later report (2)') });
    // The 60 MB charged once; the 15 MB reported after the suspension are a REJECTED record (as any usage of a suspended line).
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60', [`${sessionId}#2:unreserved`]: '15' });
    expect(await dataLeft(account)).toBe('20420');
  });
});
