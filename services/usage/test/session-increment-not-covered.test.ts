/**
 * A prepaid online session whose balance covers part of the units asked, on a tariff with increments
 * (prepaid-payg's `voice-international`: 0.0165 EUR/s, per started minute, `first: 60, next: 60`).
 * Wallets grants what the money left pays for (seconds), and the session grants the network only
 * whole increments of the call (holdGranted / callTotalCovered). When that part is smaller than the
 * call's next chargeable increment, nothing can be granted: the session answered SUCCESS with 0 units
 * (and kept the reservation held until the session's end or wallets' expiry). Now it is
 * QUOTA_LIMIT_REACHED (RFC 4006 DIAMETER_CREDIT_LIMIT_REACHED), nothing granted, a final unit
 * indication, and the reservation is released; on UPDATE the units used are still charged.
 *
 * A part covering more than one increment but not a whole number of them is granted whole
 * increments (rounded down); the commit charges those and gives the rest of the hold back.
 *
 * Real wallets (child process, own schema), NATS and PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { setLine } from './support';
import { onlineCharging } from './session-support';

/** An outgoing call from home to an INTERNATIONAL number: 0.99 EUR per started minute. */
const INTERNATIONAL_CALL = { usageType: 'VOICE', calledNumber: '+81312345678' };

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);
let lines = 0;

/** A prepaid line on plv_payg (no allowances, no overdraft) whose wallet holds `balance` EUR; its balance and held money as read from wallets. */
async function prepaidLine(balance: string): Promise<{ lineId: string; wallet: () => Promise<{ balance: string; reserved: string }> }> {
  const n = ++lines;
  const lineId = `lin_inc_nc${n}${run}`;
  const account = `acc_inc_nc${n}${run}`;
  const opened = await oc.wallets.gql<{ openWallet: { wallet: { id: string } } }>(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: account, currency: 'EUR', paymentMode: 'PREPAID' } });
  await oc.wallets.gql(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId: account, amount: { amount: balance, currency: 'EUR' }, idempotencyKey: `top-${account}` } });
  await setLine(oc.svc, { lineId, msisdn: `+491527${n}${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
  const walletId = opened.openWallet.wallet.id;
  return {
    lineId,
    wallet: async () => {
      const { wallet } = await oc.wallets.gql<{ wallet: { balance: { amount: string }; reserved: { amount: string } } }>(`query($id: ID!) { wallet(id: $id) { balance { amount } reserved { amount } } }`, { id: walletId });
      return { balance: dec(wallet.balance.amount).toFixed(2), reserved: dec(wallet.reserved.amount).toFixed(2) };
    },
  };
}

describe('a prepaid online session whose balance covers less than the call\'s next increment', () => {
  it('RESERVE: QUOTA_LIMIT_REACHED, nothing granted, nothing held (0.50 EUR covers 30 s of a 60 s first increment)', async () => {
    const { lineId, wallet } = await prepaidLine('0.50');
    const session = `s_inc_nc_r_${run}`;
    const reserve = { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' };
    const reply = await oc.ask(session, reserve);
    expect(reply).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', finalUnitIndication: true });
    expect(reply.grantedUnit ?? '0').toBe('0');
    expect(reply.message).toBe("the balance does not cover the call's first chargeable increment (60 SECOND); it pays for 30 SECOND");
    expect(await oc.ask(session, reserve), 'a retransmission').toEqual(reply);
    // What wallets held for the request is given back: nothing stays reserved, nothing is charged.
    expect(await oc.reservations(session)).toEqual({ [`${session}#0`]: 'RELEASED 0' });
    expect(await wallet()).toEqual({ balance: '0.50', reserved: '0.00' });

    // The network ends the attempt: nothing used, nothing charged, the session closed.
    expect(await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await wallet()).toEqual({ balance: '0.50', reserved: '0.00' });
    const { rows: [s] } = await oc.db.query(`select state, used::text, granted::text from charging_session where id = $1`, [session]);
    expect({ state: s.state, used: dec(s.used).toFixed(), granted: dec(s.granted).toFixed() }).toEqual({ state: 'CLOSED', used: '0', granted: '0' });
  });

  it('UPDATE: the minute used is charged, the next minute not covered is QUOTA_LIMIT_REACHED and its hold released (1.20 EUR: 60 s, then 0.21 EUR for 12 s)', async () => {
    const { lineId, wallet } = await prepaidLine('1.20');
    const session = `s_inc_nc_u_${run}`;
    expect(await oc.ask(session, { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '60', requestedUnits: '60' };
    const reply = await oc.ask(session, update);
    expect(reply).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', finalUnitIndication: true });
    expect(reply.grantedUnit ?? '0').toBe('0');
    expect(reply.message).toBe("the balance does not cover the call's next chargeable increment (60 SECOND); it pays for 12 SECOND");
    expect(await oc.ask(session, update), 'a retransmission').toEqual(reply);
    // The first minute is charged (0.99 EUR, its record); the hold for the next one is released.
    expect(await oc.reservations(session)).toEqual({ [`${session}#0`]: 'COMMITTED 60', [`${session}#1`]: 'RELEASED 0' });
    expect(await oc.records(session)).toEqual({ [`${session}#1`]: '60' });
    expect(await wallet()).toEqual({ balance: '0.21', reserved: '0.00' });

    expect(await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await wallet()).toEqual({ balance: '0.21', reserved: '0.00' });
  });

  it('RESERVE retried after a crash between the release and the session write: the same answer, released once', async () => {
    const { lineId, wallet } = await prepaidLine('0.50');
    const session = `s_inc_nc_c_${run}`;
    const reserve = { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' };
    oc.hook.once('insert into charging_session', async () => {
      throw new Error('usage crashed before writing the session row');
    });
    expect(await oc.ask(session, reserve)).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringMatching(/^internal error \(reference [0-9a-f-]{36}\)$/) });
    expect(await oc.reservations(session)).toEqual({ [`${session}#0`]: 'RELEASED 0' });
    // The retry finds the same reservation in wallets (its request id), released already: nothing held twice.
    expect(await oc.ask(session, reserve)).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', finalUnitIndication: true, grantedUnit: null });
    expect(await oc.reservations(session)).toEqual({ [`${session}#0`]: 'RELEASED 0' });
    expect(await wallet()).toEqual({ balance: '0.50', reserved: '0.00' });
  });

  it('grants whole increments of a part that is not a whole number of them (1.50 EUR covers 90 s: 60 s granted), and the commit gives the rest back', async () => {
    const { lineId, wallet } = await prepaidLine('1.50');
    const session = `s_inc_nc_p_${run}`;
    const reply = await oc.ask(session, { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '120' });
    expect(reply).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60', finalUnitIndication: true });
    expect(await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '50' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await oc.reservations(session)).toEqual({ [`${session}#0`]: 'COMMITTED 60' });
    expect(await wallet()).toEqual({ balance: '0.51', reserved: '0.00' });
  });
});
