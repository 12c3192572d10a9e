// A closed wallet's late-usage grace (WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS, 72 h by default).
//
// billingaccount.closed closes the account's wallets; usage from before closedAt that arrives late
// is still charged, but only until closedAt + the grace (`finalAt`, said in wallet.closed). Usage
// arriving after it is DENIED WALLET_BALANCE_FINAL (a ledger row with the decision, no entries: the
// balance does not move), and the periodic jobs' first pass after finalAt emits
// billing.wallets.wallet.settled once, with each wallet's final balance: the figure to pay out. A
// second pass, or the close redelivered, emits nothing more. A committed-spend budget stops with
// the account: a late charge no longer replenishes it (and invoices the closed account).
//
// Runs on a private nats-server (as wallet-closed.test.ts) with its own manual clock.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, WORK_SUBJECTS, chargeResultsOf, createCloudEvent, type ChargeResult } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { runWalletJobs } from '../src/jobs/jobs';
import { checkLedgerInvariants } from '../src/persistence/invariants';
import { APPLY, CLOSED_AT, FINAL_AT, HOUR, T0, balanceOf, charge, closeAccountAndWait, dbOf, eventually, expectInvariants, gql, openPrepaid, outboxEventsOf, outcomeOf, publishAccountClosed, startWallets, startWalletsOnPrivateNats, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
let natsUrl: string;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, clock, natsUrl, stop } = await startWalletsOnPrivateNats());
}, 60_000);
afterAll(async () => stop?.());
afterEach(async () => expectInvariants(svc));

const WALLET = `query($id: ID!) { wallet(id: $id) { status closedAt finalAt settledAt balance { amount currency } } }`;
const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id enabled } } }`;

const closed = (billingAccountId: string) => publishAccountClosed(svc, billingAccountId, CLOSED_AT);
const eventsOf = (subject: string, billingAccountId: string) => outboxEventsOf(svc, subject, billingAccountId);
const closeAndWait = (billingAccountId: string, walletId: string) => closeAccountAndWait(svc, billingAccountId, walletId, CLOSED_AT);

/** Sends charges over JetStream as usage does and waits for their ChargeResults. */
async function chargeOverNats(billingAccountId: string, charges: ReturnType<typeof charge>[]): Promise<Map<string, ChargeResult>> {
  const results = new Map<string, ChargeResult>();
  const sub = svc.runtime.messaging.nc.subscribe(WORK_SUBJECTS.chargeApplied, { callback: (_e, m) => { for (const r of chargeResultsOf(m.json()).results) if (r.billingAccountId === billingAccountId) results.set(r.chargeId, r); } });
  for (const c of charges) await svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeRequested, JSON.stringify(c), { msgID: c.chargeId });
  await eventually(async () => (charges.every((c) => results.has(c.chargeId)) ? true : null), 20_000);
  sub.unsubscribe();
  return results;
}

const checkInvariants = (t: TestService) => checkLedgerInvariants(t.runtime.orm.em.fork());
const lateCharge = (billingAccountId: string, units: string) => charge(billingAccountId, { units, pricePerUnit: '1.00', occurredAt: new Date(CLOSED_AT.getTime() - 60_000).toISOString() });

describe('a closed wallet takes late usage for a grace, then its balance is final and settled once', () => {
  it('late usage from before closedAt is charged inside the grace, DENIED WALLET_BALANCE_FINAL after it; wallet.settled carries the final balance, once', async () => {
    clock.set(T0);
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '30.00' });
    await closeAndWait(billingAccountId, walletId);
    const closedEvent = (await eventsOf(EVENTS.walletClosed.subject, billingAccountId))[0];

    // Inside the grace (71 h after the close): charged.
    clock.set(new Date(FINAL_AT.getTime() - HOUR));
    const inside = lateCharge(billingAccountId, '4');
    const insideResult = (await chargeOverNats(billingAccountId, [inside])).get(inside.chargeId);
    await runWalletJobs(dbOf(svc), clock.now()); // not final yet: nothing settled
    const settledBefore = (await eventsOf(EVENTS.walletSettled.subject, billingAccountId)).length;

    // After the grace, before any job pass: refused by time alone; the balance stays.
    clock.set(new Date(FINAL_AT.getTime() + 60_000));
    const after = lateCharge(billingAccountId, '3');
    const afterResult = (await chargeOverNats(billingAccountId, [after])).get(after.chargeId);
    const viaGraphql = await svc.request(APPLY, { i: lateCharge(billingAccountId, '2') });
    const recorded = await dbOf(svc).query<{ outcome: any; entries: string }>(
      `select t.outcome, (select count(*) from ledger_entry e where e.transaction_id = t.id)::text as entries from ledger_transaction t where t.idempotency_key = $1`,
      [`CHARGE:${after.chargeId}`],
    );
    const balanceAtFinal = await balanceOf(svc, walletId);

    // The jobs settle the wallet once: a second pass and the close redelivered add nothing.
    const first = await runWalletJobs(dbOf(svc), clock.now());
    clock.set(new Date(FINAL_AT.getTime() + 2 * HOUR));
    const second = await runWalletJobs(dbOf(svc), clock.now());
    await closed(billingAccountId);
    const marker = await openPrepaid(svc);
    await closeAndWait(marker.billingAccountId, marker.walletId); // handled after the redelivery
    const settled = await eventsOf(EVENTS.walletSettled.subject, billingAccountId);
    const wallet = (await gql(svc, WALLET, { id: walletId })).wallet;

    const seen = {
      finalAt: closedEvent?.data.finalAt,
      inside: insideResult && { outcome: insideResult.outcome, amount: insideResult.amountCharged },
      settledBefore,
      after: afterResult && { outcome: afterResult.outcome, amount: afterResult.amountCharged, reason: afterResult.reason?.split(':')[0] },
      graphql: outcomeOf(viaGraphql),
      recorded: recorded.map((r) => ({ outcome: r.outcome?.outcome, reason: String(r.outcome?.reason ?? '').split(':')[0], entries: r.entries })),
      balanceAtFinal,
      passes: [first.walletsSettled, second.walletsSettled],
      settled: settled.map((e) => ({ id: e.id, data: e.data })),
      closedEvents: (await eventsOf(EVENTS.walletClosed.subject, billingAccountId)).length,
      wallet,
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      finalAt: FINAL_AT.toISOString(),
      inside: { outcome: 'APPLIED', amount: '4.000000' },
      settledBefore: 0,
      after: { outcome: 'DENIED', amount: '0.000000', reason: 'WALLET_BALANCE_FINAL' },
      graphql: 'CONFLICT:WALLET_BALANCE_FINAL',
      recorded: [{ outcome: 'DENIED', reason: 'WALLET_BALANCE_FINAL', entries: '0' }],
      balanceAtFinal: '26',
      passes: [1, 0],
      settled: [{
        id: expect.any(String),
        data: expect.objectContaining({
          billingAccountId,
          closedAt: CLOSED_AT.toISOString(),
          finalAt: FINAL_AT.toISOString(),
          wallets: [expect.objectContaining({ walletId, currency: 'EUR', paymentMode: 'PREPAID', balance: { amount: '26.000000', currency: 'EUR' } })],
        }),
      }],
      closedEvents: 1,
      wallet: { status: 'CLOSED', closedAt: CLOSED_AT.toISOString(), finalAt: FINAL_AT.toISOString(), settledAt: new Date(FINAL_AT.getTime() + 60_000).toISOString(), balance: { amount: '26', currency: 'EUR' } },
    });
  }, 60_000);

  it('a committed-spend budget stops with the account: a late charge below its threshold replenishes nothing, and it cannot be turned on again', async () => {
    clock.set(T0);
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } }); // funded: 100
    await closeAndWait(billingAccountId, walletId);
    clock.set(new Date(CLOSED_AT.getTime() + HOUR));
    const late = lateCharge(billingAccountId, '85'); // 100 → 15: below the threshold
    const result = (await chargeOverNats(billingAccountId, [late])).get(late.chargeId);
    const again = await svc.request(SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } });
    const seen = {
      late: result && { outcome: result.outcome, amount: result.amountCharged },
      balance: await balanceOf(svc, walletId),
      replenishments: Number((await dbOf(svc).query<{ n: string }>(`select count(*) as n from budget_replenishment where billing_account_id = $1`, [billingAccountId]))[0]!.n),
      replenishedEvents: (await eventsOf(EVENTS.budgetReplenished.subject, billingAccountId)).length,
      budget: (await dbOf(svc).query<{ enabled: boolean }>(`select enabled from budget where billing_account_id = $1`, [billingAccountId]))[0]?.enabled,
      flag: (await dbOf(svc).query<{ budget_committed: string | null }>(`select budget_committed from wallet where id = $1`, [walletId]))[0]?.budget_committed,
      again: outcomeOf(again),
    };
    expect(seen, JSON.stringify(seen)).toEqual({ late: { outcome: 'APPLIED', amount: '85.000000' }, balance: '15', replenishments: 1, replenishedEvents: 1, budget: false, flag: null, again: 'CONFLICT:WALLET_CLOSED' });
  }, 45_000);

  it('with WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS=1 the balance is final an hour after closedAt; a reservation still open then is given back before the balance is settled, and a commit after it charges nothing', async () => {
    const { svc: short, clock: shortClock } = await startWallets({ NATS_URL: natsUrl, LOG_LEVEL: 'fatal', WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS: '1' });
    try {
      shortClock.set(T0);
      const { billingAccountId, walletId } = await openPrepaid(short, { balance: '30.00' });
      const reserved = await gql(short, `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } } }`, {
        i: { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '5', pricePerUnit: '1.00', allowanceIds: [], validitySeconds: 86_400 },
      });
      const reservationId = reserved.reserveBalance.reservation.id as string;
      const data = { billingAccountId, customerId: uniq('cus'), closedAt: CLOSED_AT.toISOString(), reason: 'customer left' };
      const event = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountClosed.type, subject: billingAccountId, time: CLOSED_AT, key: [billingAccountId, 'closed'], data });
      await short.runtime.messaging.js.publish(EVENTS.billingAccountClosed.subject, JSON.stringify(event), { msgID: uniq('msg') });
      const finalAt = new Date(CLOSED_AT.getTime() + HOUR);
      const status = await eventually(async () => (await gql(short, WALLET, { id: walletId })).wallet.finalAt);
      shortClock.set(new Date(finalAt.getTime() + 60_000));
      const heldBefore = await balanceOf(short, walletId);
      await runWalletJobs(dbOf(short), shortClock.now());
      const commit = await gql(short, `mutation($i: CommitReservationInput!) { commitReservation(input: $i) { resultCode reservation { status } amountCharged } }`, { i: { reservationId, usedUnits: '5' } });
      const settled = await dbOf(short).query<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2`, [EVENTS.walletSettled.subject, `%"${billingAccountId}"%`]);
      const seen = {
        finalAt: status,
        heldBefore,
        commit: commit.commitReservation,
        balance: await balanceOf(short, walletId),
        settled: settled.map((r) => JSON.parse(r.payload).data.wallets.map((w: any) => w.balance.amount)),
      };
      expect(seen, JSON.stringify(seen)).toEqual({
        finalAt: finalAt.toISOString(),
        heldBefore: '25',
        commit: { resultCode: 'SUCCESS', reservation: { status: 'EXPIRED' }, amountCharged: '0.000000' },
        balance: '30',
        settled: [['30.000000']],
      });
      expect(await checkInvariants(short)).toEqual([]);
    } finally {
      await short.close();
    }
  }, 60_000);

  it('a bad WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS stops start-up, naming the setting', async () => {
    await expect(startWallets({ LOG_LEVEL: 'fatal', WALLETS_CONSUMERS: 'off', WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS: 'three days' })).rejects.toThrow(/WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS/);
  });
});
