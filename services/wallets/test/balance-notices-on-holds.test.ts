// LOW_BALANCE, DEPLETED and auto top-up judge spent money (found in review, eleventh session): a
// reservation's hold said "low balance" / "used up" (and asked the card for a top-up) although
// nothing was spent and the hold could be released unused a minute later; its commit, where the
// money was spent, then said nothing. Now they judge the unspent money (balance + held): a hold or
// a release crosses nothing, a commit or a charge batch that spends across a threshold says it once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { applyCharges } from '../src/application/apply-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const RESERVE = `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } grantedUnit { units amount { amount } } } }`;
const RELEASE = `mutation($i: ReleaseReservationInput!) { releaseReservation(input: $i) { resultCode reservation { status } } }`;
const COMMIT = `mutation($i: CommitReservationInput!) { commitReservation(input: $i) { resultCode reservation { status } amountCharged } }`;
const SET_AUTO_TOPUP = `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`;

const reserve = async (billingAccountId: string, units: string): Promise<string> => {
  const r = (await gql(svc, RESERVE, { i: { requestId: uniq('rq'), sessionId: uniq('s'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: units, pricePerUnit: '1.00', allowanceIds: [] } })).reserveBalance;
  expect(r.resultCode).toBe('SUCCESS');
  return r.reservation.id as string;
};
const commit = (reservationId: string, usedUnits: string) => gql(svc, COMMIT, { i: { reservationId, usedUnits } });
const release = (reservationId: string) => gql(svc, RELEASE, { i: { reservationId } });

/** Every balance notice of the wallet: its notification rows, its outbox events and its auto top-up requests. */
async function notices(walletId: string) {
  const db = dbOf(svc);
  const notes = (await db.query<{ kind: string }>(`select kind from notification where wallet_id = $1 order by kind`, [walletId])).map((n) => n.kind);
  const events = (await db.query<{ subject: string }>(`select subject from outbox where subject like 'billing.wallets.%' and subject not like '%.adjusted' and payload like $1 order by subject`, [`%"walletId":"${walletId}"%`]))
    .map((e) => e.subject).filter((s) => /balance\.(low|depleted)|autotopup\.requested/.test(s));
  const topups = (await db.query<{ amount: string }>(`select amount::text from topup_request where wallet_id = $1 order by amount`, [walletId])).map((t) => t.amount);
  return { notes, events, topups };
}
const NOTHING = { notes: [], events: [], topups: [] };

describe('balance notices judge spent money, not money held by a reservation', () => {
  it('a hold that takes the balance below the threshold says nothing; its commit says it once; a repeated commit says nothing more', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00', lowBalanceThreshold: '5.00' });
    const held = await reserve(billingAccountId, '8'); // 10 → 2 available, 10 unspent
    expect(await balanceOf(svc, walletId)).toBe('2');
    expect(await notices(walletId)).toEqual(NOTHING);
    await commit(held, '8'); // 8 spent: 10 → 2 unspent, below 5
    await commit(held, '8');
    expect(await notices(walletId)).toEqual({ notes: ['LOW_BALANCE'], events: ['billing.wallets.balance.low'], topups: [] });
    const text = (await dbOf(svc).query<{ message: string }>(`select message from notification where wallet_id = $1`, [walletId]))[0]!.message;
    expect(text).toContain('2.00 EUR');
  });

  it('a hold of the whole balance is not "used up"; its release says nothing; a commit that spends it all says low and depleted once', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00', lowBalanceThreshold: '5.00' });
    const first = await reserve(billingAccountId, '10'); // 0 available
    expect(await notices(walletId)).toEqual(NOTHING);
    await release(first.toString());
    expect(await balanceOf(svc, walletId)).toBe('10');
    expect(await notices(walletId)).toEqual(NOTHING);
    // Used 3 of 10: 7 unspent, above 5: nothing; then all of the next hold: 0 unspent.
    await commit(await reserve(billingAccountId, '10'), '3');
    expect(await notices(walletId)).toEqual(NOTHING);
    await commit(await reserve(billingAccountId, '7'), '7');
    expect(await notices(walletId)).toEqual({ notes: ['DEPLETED', 'LOW_BALANCE'], events: ['billing.wallets.balance.depleted', 'billing.wallets.balance.low'], topups: [] });
  });

  it('auto top-up: a hold requests nothing, its release nothing, the commit that spends below the rule\'s threshold requests once', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    await gql(svc, SET_AUTO_TOPUP, { i: { walletId, enabled: true, threshold: '5.00', targetBalance: '20.00', paymentMethodToken: 'tok_visa' } });
    const held = await reserve(billingAccountId, '7'); // 3 available
    await release(held);
    expect(await notices(walletId)).toEqual(NOTHING);
    const spent = await reserve(billingAccountId, '7');
    await commit(spent, '6'); // 4 unspent: up to 20 is 16
    await commit(spent, '6');
    expect(await notices(walletId)).toEqual({ notes: [], events: ['billing.wallets.autotopup.requested'], topups: ['16.000000'] });
  });

  it('a charge batch that spends across the threshold says it once, judged on unspent money while a hold is open', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00', lowBalanceThreshold: '5.00' });
    const held = await reserve(billingAccountId, '4'); // 6 available, 10 unspent
    // 3 × 1.00: 7 unspent (the balance alone, 6 → 3, would have said "low").
    await applyCharges(dbOf(svc), Array.from({ length: 3 }, () => charge(billingAccountId) as never), T0);
    expect(await notices(walletId)).toEqual(NOTHING);
    // 3 × 1.00 more in one batch: 7 → 4 unspent, below 5: once. The balance is 0 but 4 are still held: not depleted.
    await applyCharges(dbOf(svc), Array.from({ length: 3 }, () => charge(billingAccountId) as never), T0);
    expect(await balanceOf(svc, walletId)).toBe('0');
    expect(await notices(walletId)).toEqual({ notes: ['LOW_BALANCE'], events: ['billing.wallets.balance.low'], topups: [] });
    await release(held);
    expect(await notices(walletId)).toEqual({ notes: ['LOW_BALANCE'], events: ['billing.wallets.balance.low'], topups: [] });
  });
});
