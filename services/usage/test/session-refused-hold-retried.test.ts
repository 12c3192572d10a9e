/**
 * Issue 6, exactly once: every hold a session asks wallets for is named by (session, number) - `<ref>#<n>` for the
 * units a RESERVE or UPDATE asks, `<ref>#<n>:unreserved` for a prepaid line's units past its grant - and a retry or a
 * twin of the request asks again under the same request id. Wallets kept only what it granted: a refusal (no balance)
 * left nothing, so the same request id asked again after a top-up was granted. Two decisions for one key:
 * - a past-grant hold refused, its record stored DENIED (unpaid), usage gone before its reply: the retry after a
 *   top-up had the hold granted and committed - money taken for a record that says unpaid - and was answered
 *   SUCCESS with more units granted, while the record still said DENIED;
 * - a RESERVE refused while a twin of it (same request) ran after a top-up: the twin was granted, lost the session
 *   insert to the refusal and answered it, and its reservation, which the session never named, held the money
 *   until wallets' expiry (300 s).
 * Wallets now answers a repeated request id with its refusal as it answers it with its reservation.
 *
 * Real wallets (child process, own schema), NATS and PostgreSQL; requests over NATS as a network element sends them.
 */
import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { setLine } from './support';
import { onlineCharging } from './session-support';

/** An outgoing call from home to an INTERNATIONAL number on prepaid-payg: 0.0165 EUR/s, per started minute (0.99 EUR). */
const INTERNATIONAL_CALL = { usageType: 'VOICE', calledNumber: '+81312345678' };

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);
let lines = 0;

/** A prepaid line on plv_payg (no allowances, no overdraft) with a wallet holding `balance` EUR (none: empty); top-ups and what wallets has. */
async function prepaidLine(balance?: string) {
  const n = ++lines;
  const lineId = `lin_rfh${n}${run}`;
  const account = `acc_rfh${n}${run}`;
  const opened = await oc.wallets.gql<{ openWallet: { wallet: { id: string } } }>(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: account, currency: 'EUR', paymentMode: 'PREPAID' } });
  let topups = 0;
  const topup = (amount: string) => oc.wallets.gql(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId: account, amount: { amount, currency: 'EUR' }, idempotencyKey: `top-${account}-${++topups}` } });
  if (balance) await topup(balance);
  await setLine(oc.svc, { lineId, msisdn: `+491529${n}${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
  const walletId = opened.openWallet.wallet.id;
  return {
    lineId,
    topup,
    wallet: async () => {
      const { wallet } = await oc.wallets.gql<{ wallet: { balance: { amount: string }; reserved: { amount: string } } }>(`query($id: ID!) { wallet(id: $id) { balance { amount } reserved { amount } } }`, { id: walletId });
      return { balance: dec(wallet.balance.amount).toFixed(), reserved: dec(wallet.reserved.amount).toFixed() };
    },
  };
}

/** What the record of units past the grant says of its charge (charge_outcome first). */
async function overageRecord(eventId: string) {
  const { rows: [r] } = await oc.db.query(
    `select coalesce(o.outcome, r.charge_status) as status, coalesce(o.amount_charged, r.amount_charged)::text as charged, r.unpaid_amount::text as unpaid
       from usage_record r left join charge_outcome o on o.usage_record_id = r.id where r.source = 'ocs' and r.event_id = $1`, [eventId]);
  return r && { status: r.status, charged: dec(r.charged).toFixed(), unpaid: r.unpaid === null ? null : dec(r.unpaid).toFixed() };
}

describe('a hold wallets refused, asked again under its request id after a top-up', () => {
  it('past the grant: the retry of an UPDATE cut short after its DENIED record is refused alike, charged nothing, answered as the record says', async () => {
    const { lineId, topup, wallet } = await prepaidLine('0.99');
    const session = `s_rfh_past_${run}`;
    expect(await oc.ask(session, { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '90', requestedUnits: '60' };
    // The minute granted is committed (0.99); the 30 s past it find nothing left: refused, stored DENIED, 0.99 unpaid. Then usage dies.
    oc.hook.once('update charging_session set state', async () => {
      throw new Error('usage crashed before storing the reply');
    });
    expect(await oc.ask(session, update)).toMatchObject({ resultCode: 'RATING_FAILED', message: expect.stringMatching(/^internal error \(reference [0-9a-f-]{36}\)$/) });
    const denied = { status: 'DENIED', charged: '0', unpaid: '0.99' };
    expect(await overageRecord(`${session}#1:unreserved`)).toEqual(denied);
    expect(await wallet()).toEqual({ balance: '0', reserved: '0' });

    await topup('5.00');
    const reply = await oc.ask(session, update);
    // The answer the first attempt would have given: what its stored record says.
    expect(reply).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', grantedUnit: null, finalUnitIndication: true, unpaidAmount: { amount: '0.99', currency: 'EUR' } });
    expect(await overageRecord(`${session}#1:unreserved`)).toEqual(denied);
    expect(await wallet(), 'the top-up untouched').toEqual({ balance: '5', reserved: '0' });
    expect(await oc.reservations(session)).toEqual({ [`${session}#0`]: 'COMMITTED 60' });
    expect(await oc.ask(session, update), 'a retransmission').toEqual(reply);

    expect(await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await wallet()).toEqual({ balance: '5', reserved: '0' });
  });

  it('RESERVE: a twin running after a top-up is refused as the first attempt was, and holds nothing the session does not name', async () => {
    const { lineId, topup, wallet } = await prepaidLine();
    const session = `s_rfh_twin_${run}`;
    const reserve = { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' };
    let twin: Promise<unknown> | undefined;
    let releaseTwin!: () => void;
    // The first attempt is refused (nothing in the wallet); before it stores the session the customer tops up and a
    // twin of the request (the network element's retransmission) asks wallets again, then waits at its own insert.
    oc.hook.once('insert into charging_session', async () => {
      await topup('5.00');
      const twinAtInsert = new Promise<void>((reached) => {
        oc.hook.once('insert into charging_session', async () => {
          reached();
          await new Promise<void>((go) => (releaseTwin = go));
        });
      });
      twin = oc.ask(session, reserve);
      await twinAtInsert;
    });
    const first = await oc.ask(session, reserve);
    expect(first).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', finalUnitIndication: true });
    releaseTwin();
    expect(await twin, 'the twin answers the stored reply').toEqual(first);
    // Nothing held for a session that was told it has nothing (before: the twin's 60 s held 0.99 until wallets' expiry).
    expect(await oc.reservations(session)).toEqual({});
    expect(await wallet()).toEqual({ balance: '5', reserved: '0' });

    expect(await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await oc.reservations(session)).toEqual({});
    expect(await wallet()).toEqual({ balance: '5', reserved: '0' });
  });
});
