/**
 * What a closed online charging session answers (review, 2026-11-29).
 *
 * 1. A RESERVE or UPDATE sent again once its session was closed (TIMED_OUT by the idle sweeper, its
 *    reservation released; or CLOSED by its TERMINATE) must not claim a live grant. The session keeps
 *    the last reply for retransmissions (ADR 14), and the old code answered a retransmission of the
 *    RESERVE (or of the last UPDATE) of a TIMED_OUT session with that stored reply: SUCCESS with the
 *    units of a reservation the sweeper had released. No money was lost (the units, once reported, are
 *    charged as usage), but the network element was told it had units it had not. A RESERVE for a
 *    session its TERMINATE closed was RATING_FAILED "already exists; use UPDATE or TERMINATE" (which a
 *    CLOSED session refuses too). Now such requests are answered UNKNOWN_SESSION (RFC 6733's
 *    DIAMETER_UNKNOWN_SESSION_ID, 5002, which an RFC 4006 server answers for a session it released),
 *    grantedUnit null, a final unit indication. An exact retry while the session is OPEN still gets
 *    its original answer, a retry of the TERMINATE its own, and a TIMED_OUT session still takes late
 *    reports (charged as usage) as before.
 * 2. After a QUOTA_LIMIT_REACHED answer to an UPDATE (the grant below the call's next increment, the
 *    hold released) the session stays OPEN (RFC 4006: the client ends it with a TERMINATE after a final
 *    unit indication): units a later UPDATE or the TERMINATE reports are charged once, as the call's
 *    units after those charged before (the tariff's increments apply to the running total).
 *
 * Real wallets (child process, own schema), NATS and PostgreSQL; requests over NATS as a network
 * element sends them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { setLine } from './support';
import { onlineCharging } from './session-support';

const oc = onlineCharging();
const { ask, sweep, silence, reservations, records } = oc;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_sca${run}`;
const account = `acc_sca${run}`;

/** What a closed session answers a RESERVE or UPDATE: nothing granted, the session's end told. */
const CLOSED = { resultCode: 'UNKNOWN_SESSION', grantedUnit: null, validityTime: null, finalUnitIndication: true };

beforeAll(async () => {
  await oc.postpaidLine(lineId, account, '+4915100007581');
});

async function stateOf(sessionId: string): Promise<{ state: string; used: string; granted: string }> {
  const { rows: [s] } = await oc.db.query(`select state, used::text, granted::text from charging_session where id = $1`, [sessionId]);
  return { state: s.state, used: dec(s.used).toFixed(), granted: dec(s.granted).toFixed() };
}

describe('a RESERVE or UPDATE sent again to a closed session claims no grant', () => {
  it('RESERVE retransmitted after the idle sweeper closed the session: UNKNOWN_SESSION, not the released grant; late reports are still charged', async () => {
    const sessionId = `gy-sca-r-${run}`;
    const reserve = { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' };
    const granted = await ask(sessionId, reserve);
    expect(granted).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    // While the session is OPEN an exact retransmission gets the original answer (idempotency).
    expect(await ask(sessionId, reserve), 'a retransmission while OPEN').toEqual(granted);

    await silence(sessionId);
    expect(await sweep()).toBe(1);
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 0' });

    const again = await ask(sessionId, reserve);
    expect(again, 'the RESERVE sent again once the session is TIMED_OUT').toMatchObject(CLOSED);
    expect(again.message).toContain('TIMED_OUT');
    expect(await ask(sessionId, reserve), 'and again').toEqual(again);
    // Nothing was reserved for it.
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 0' });
    expect(await stateOf(sessionId)).toEqual({ state: 'TIMED_OUT', used: '0', granted: '0' });

    // What the network used is still charged, as usage, when it reports it (ADR 14's late report).
    const terminate = { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '45' };
    const late = await ask(sessionId, terminate);
    expect(late).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(await ask(sessionId, terminate), 'the TERMINATE retransmitted').toEqual(late);
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1:unreserved`]: '45' });
  });

  it('UPDATE retransmitted after the idle sweeper closed the session: UNKNOWN_SESSION, nothing charged again', async () => {
    const sessionId = `gy-sca-u-${run}`;
    expect(await ask(sessionId, { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '40' };
    const granted = await ask(sessionId, update);
    expect(granted).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '40' });
    expect(await ask(sessionId, update), 'a retransmission while OPEN').toEqual(granted);

    await silence(sessionId);
    expect(await sweep()).toBe(1);
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });

    expect(await ask(sessionId, update), 'the UPDATE sent again once the session is TIMED_OUT').toMatchObject(CLOSED);
    // Its 60 MB were charged once, by the first attempt; the retransmission reserved and charged nothing.
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'COMMITTED 0' });
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60' });
    expect(await stateOf(sessionId)).toEqual({ state: 'TIMED_OUT', used: '60', granted: '0' });
  });

  it('after the TERMINATE: its retry gets its own answer, a RESERVE or UPDATE sent again is UNKNOWN_SESSION', async () => {
    const sessionId = `gy-sca-t-${run}`;
    const reserve = { operation: 'RESERVE', invocationSequenceNumber: 0, lineId, usageType: 'DATA', requestedUnits: '60' };
    expect(await ask(sessionId, reserve)).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '20', requestedUnits: '40' };
    expect(await ask(sessionId, update)).toMatchObject({ resultCode: 'SUCCESS' });
    const terminate = { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '30' };
    const closed = await ask(sessionId, terminate);
    expect(closed).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(await ask(sessionId, terminate), 'the TERMINATE retransmitted').toEqual(closed);

    for (const [what, req] of [['the RESERVE', reserve], ['the UPDATE', update], ['a next UPDATE', { ...update, invocationSequenceNumber: 3 }]] as const) {
      const reply = await ask(sessionId, req);
      expect(reply, what).toMatchObject(CLOSED);
      expect(reply.message, what).toContain('CLOSED');
    }
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 20', [`${sessionId}#1`]: 'COMMITTED 30' });
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '20' });
    expect(await stateOf(sessionId)).toEqual({ state: 'CLOSED', used: '50', granted: '0' });
  });
});

/** An outgoing call from home to an INTERNATIONAL number on prepaid-payg: 0.0165 EUR/s, per started minute (0.99 EUR). */
const INTERNATIONAL_CALL = { usageType: 'VOICE', calledNumber: '+81312345678' };

describe('after QUOTA_LIMIT_REACHED on an UPDATE the session stays OPEN and later reports are charged once', () => {
  it('a later UPDATE (after a top-up) and the TERMINATE: the call charged as one, per started minute', async () => {
    const payg = `lin_sca_payg${run}`;
    const payAccount = `acc_sca_payg${run}`;
    const opened = await oc.wallets.gql<{ openWallet: { wallet: { id: string } } }>(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: payAccount, currency: 'EUR', paymentMode: 'PREPAID' } });
    const topup = (amount: string, key: string) => oc.wallets.gql(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId: payAccount, amount: { amount, currency: 'EUR' }, idempotencyKey: `${key}-${payAccount}` } });
    await topup('1.20', 'first');
    await setLine(oc.svc, { lineId: payg, msisdn: `+4915275${String(Date.now()).slice(-6)}`, account: payAccount, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
    const wallet = async () => {
      const { wallet: w } = await oc.wallets.gql<{ wallet: { balance: { amount: string }; reserved: { amount: string } } }>(`query($id: ID!) { wallet(id: $id) { balance { amount } reserved { amount } } }`, { id: opened.openWallet.wallet.id });
      return { balance: dec(w.balance.amount).toFixed(2), reserved: dec(w.reserved.amount).toFixed(2) };
    };

    const sessionId = `gy-sca-q-${run}`;
    expect(await ask(sessionId, { operation: 'RESERVE', lineId: payg, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    // The first minute is used; 0.21 EUR left pays for 12 s of the next one: nothing granted, the hold released.
    expect(await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '60' })).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', grantedUnit: null, finalUnitIndication: true });
    expect(await stateOf(sessionId)).toEqual({ state: 'OPEN', used: '60', granted: '0' });
    expect(await wallet()).toEqual({ balance: '0.21', reserved: '0.00' });

    // The customer tops up; the network (its report crossing the answer) reports 30 s more and asks again.
    await topup('5.00', 'second');
    const update = { operation: 'UPDATE', invocationSequenceNumber: 2, usedUnits: '30', requestedUnits: '60' };
    const next = await ask(sessionId, update);
    // The 30 s are the call's second minute (charged as usage: no reservation covered them); 60 s more are
    // held as the third minute, which covers the call up to 180 s: 90 s granted.
    expect(next).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '90' });
    expect(await ask(sessionId, update), 'a retransmission').toEqual(next);
    const terminate = { operation: 'TERMINATE', invocationSequenceNumber: 3, usedUnits: '40' };
    expect(await ask(sessionId, terminate)).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await ask(sessionId, terminate), 'a retransmission').toMatchObject({ resultCode: 'SUCCESS' });

    // 130 s: three started minutes, each charged once (1.20 + 5.00 - 3 × 0.99).
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60', [`${sessionId}#2:unreserved`]: '30' });
    // The second minute, past any grant on a prepaid line, is held and committed within the report (`#2:unreserved`).
    expect(await reservations(sessionId)).toEqual({ [`${sessionId}#0`]: 'COMMITTED 60', [`${sessionId}#1`]: 'RELEASED 0', [`${sessionId}#2`]: 'COMMITTED 60', [`${sessionId}#2:unreserved`]: 'COMMITTED 60' });
    expect(await wallet()).toEqual({ balance: '3.23', reserved: '0.00' });
    expect(await stateOf(sessionId)).toEqual({ state: 'CLOSED', used: '130', granted: '0' });
  });

  it('no top-up: the TERMINATE\'s units are charged as usage once (what the balance still pays)', async () => {
    const payg = `lin_sca_payg2${run}`;
    const payAccount = `acc_sca_payg2${run}`;
    const opened = await oc.wallets.gql<{ openWallet: { wallet: { id: string } } }>(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: payAccount, currency: 'EUR', paymentMode: 'PREPAID' } });
    await oc.wallets.gql(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId: payAccount, amount: { amount: '1.20', currency: 'EUR' }, idempotencyKey: `top-${payAccount}` } });
    await setLine(oc.svc, { lineId: payg, msisdn: `+4915276${String(Date.now()).slice(-6)}`, account: payAccount, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
    const balance = async () => dec((await oc.wallets.gql<{ wallet: { balance: { amount: string } } }>(`query($id: ID!) { wallet(id: $id) { balance { amount } } }`, { id: opened.openWallet.wallet.id })).wallet.balance.amount).toFixed(2);

    const sessionId = `gy-sca-q2-${run}`;
    expect(await ask(sessionId, { operation: 'RESERVE', lineId: payg, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    expect(await ask(sessionId, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '60' })).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED' });
    const terminate = { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '10' };
    const closed = await ask(sessionId, terminate);
    expect(closed).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(await ask(sessionId, terminate)).toEqual(closed);
    expect(await records(sessionId)).toEqual({ [`${sessionId}#1`]: '60', [`${sessionId}#2:unreserved`]: '10' });
    // The 10 s start the second minute (0.99 EUR asked); a prepaid wallet without overdraft pays what its balance
    // pays for (12 whole seconds, 0.198 EUR of the 0.21 left), once, within the report; the rest is recorded unpaid.
    expect(await balance()).toBe('0.01');
    expect(closed.message).toBe('units used past the grant: the balance paid 12 of 60 SECOND; 0.792 EUR unpaid (WALLET_INSUFFICIENT_BALANCE)');
    const { rows: [unpaid] } = await oc.db.query(`select unpaid_amount::text as unpaid from usage_record where source = 'ocs' and event_id = $1`, [`${sessionId}#2:unreserved`]);
    expect(dec(unpaid.unpaid).toFixed()).toBe('0.792');
    expect(await stateOf(sessionId)).toEqual({ state: 'CLOSED', used: '70', granted: '0' });
  });
});
