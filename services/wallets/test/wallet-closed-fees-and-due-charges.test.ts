// Bundle fees, due charges and refused charges of a closed wallet (follow-ups of the late one-offs
// change, wallet-settled-late-one-offs.test.ts).
//
// - A prepaid bundle's fee (first period, renewal) was taken whatever the wallet's state: a
//   subscription still ACTIVE in wallets' copy (its end event late) renewed from a settled wallet,
//   changing the final balance finance had paid out. Now a fee is judged as a late charge, its
//   period's start as the moment it is incurred: refused WALLET_CLOSED for a period starting at or
//   after closedAt, WALLET_SETTLED after the settlement. Nothing is taken or granted and the term is
//   marked REFUSED: the renewal job never tries it again (an unpaid fee is retried each minute).
// - A one-off charge left due (waiting for a top-up) when its wallet closed waited for ever: no
//   top-up can reach a closed wallet. At the settlement what the wallet holds is netted against it
//   (oldest first, whole minor units: taken on the ledger under the charge's key) and only what is
//   left is refused WALLET_SETTLED and handed to finance by billing.wallets.charge.refused (its
//   amount: the remainder). Before 2026-11-29 (thirtieth session) the whole charge was refused while
//   the wallet's money was paid out: the customer got 3.00 back and an invoice for 5.00.
// - A refused bundle fee keeps its decision on the ledger under its RENEWAL key (no entries), as a
//   refused one-off keeps its own; a redelivery or a later pass finds it refused, not paid.
// - A late one-off charge a closed wallet refuses says so to finance with the same event, once.
//
// Runs on a private nats-server with its own manual clock (as wallet-closed-grace.test.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, type OneOffChargeData, type SubscriptionData } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { CLOSED_AT, FINAL_AT, HOUR, T0, balanceOf, closeAccountAndWait, closedPrepaidWallet, dbOf, expectInvariants, openPrepaid, outboxEventsOf, startWalletsOnPrivateNats, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { renewDueAllowances, renewSubscription } from '../src/application/renew-allowances';
import { runWalletJobs } from '../src/jobs/jobs';
import type { PlanTerms } from '../src/adapters/catalog-client';

let svc: TestService;
let clock: ManualClock;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, clock, stop } = await startWalletsOnPrivateNats());
}, 60_000);
afterAll(async () => stop?.());
afterEach(async () => expectInvariants(svc));

const DAY = 24 * HOUR;
const AFTER_SETTLEMENT = new Date(FINAL_AT.getTime() + 2 * HOUR);
const terms: PlanTerms = { recurringFee: { amount: '10.00', period: 'DAYS30' }, allowances: [{ id: 'data', unit: 'MB', quantity: '1024', validity: 'PERIOD' }] };
const catalog = { planTerms: async () => terms };

const subscription = (billingAccountId: string, startsAt: Date): SubscriptionData => ({
  subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'BUNDLE', planVersionId: 'pv_bundle',
  status: 'ACTIVE', startsAt: startsAt.toISOString(), endsAt: null, addOns: [],
});
const oneOff = (billingAccountId: string, amount: string, over: Partial<OneOffChargeData> = {}): OneOffChargeData => ({
  chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE',
  reason: 'ADD_ON_PURCHASE', amount, currency: 'EUR', description: 'Data boost', periodStart: null, periodEnd: null, chargedAt: new Date(CLOSED_AT.getTime() - 60_000).toISOString(), ...over,
});
const apply = (d: OneOffChargeData, now: Date) => dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, now));
const grant = (d: SubscriptionData, now: Date) => dbOf(svc).tx((sql) => grantFromSubscription(sql, d, terms, now));
const renew = (subscriptionId: string, now: Date) => dbOf(svc).tx((sql) => renewSubscription(sql, subscriptionId, terms, now));
const termOf = async (subscriptionId: string) =>
  (await dbOf(svc).query<{ fee_state: string | null; renewals: number; period_start: Date }>(`select fee_state, renewals, period_start from subscription_term where subscription_id = $1`, [subscriptionId]))[0];
const feesOf = async (subscriptionId: string) =>
  (await dbOf(svc).query<{ idempotency_key: string }>(`select idempotency_key from ledger_transaction where idempotency_key like $1 order by created_at`, [`RENEWAL:${subscriptionId}:%`])).map((r) => r.idempotency_key);
const bucketsOf = async (acc: string) => Number((await dbOf(svc).query<{ n: string }>(`select count(*)::text as n from bucket where billing_account_id = $1`, [acc]))[0]!.n);
const refusedEvents = async (acc: string) => (await outboxEventsOf(svc, 'billing.wallets.charge.refused', acc)).map((e) => e.data);
/** What a ledger transaction moved on the wallet (ledger scale), or null: no entry on it. */
const movedBy = async (txId: string | undefined, walletId: string) =>
  (await dbOf(svc).query<{ moved: string | null }>(`select sum(amount)::text as moved from ledger_entry where transaction_id = $1 and account_id = $2`, [txId ?? '', walletId]))[0]?.moved ?? null;
const txOf = async (key: string) =>
  (await dbOf(svc).query<{ id: string; kind: string; outcome: any; entries: string }>(
    `select t.id, t.kind, t.outcome, (select count(*) from ledger_entry e where e.transaction_id = t.id)::text as entries from ledger_transaction t where t.idempotency_key = $1`, [key],
  )).map((t) => ({ id: t.id, kind: t.kind, refused: t.outcome?.refused as string | undefined, entries: t.entries }));

describe('bundle fees of a closed wallet', () => {
  it('a renewal after the settlement is refused WALLET_SETTLED: no fee, no allowances, and the renewal job never tries it again', async () => {
    clock.set(T0);
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '50.00' });
    const sub = subscription(acc, T0);
    await grant(sub, T0); // 50 → 40
    await closeAccountAndWait(svc, acc, walletId, CLOSED_AT);
    clock.set(new Date(FINAL_AT.getTime() + 60_000));
    await runWalletJobs(dbOf(svc), clock.now());

    // The line's end never reached wallets: its term is still ACTIVE when its period ends.
    const periodEnd = new Date(T0.getTime() + 30 * DAY);
    const at = new Date(periodEnd.getTime() + 60_000);
    const outcome = await renew(sub.subscriptionId, at);
    const passes = [await renewDueAllowances(dbOf(svc), catalog, new Date(at.getTime() + 2 * 60_000)), await renewDueAllowances(dbOf(svc), catalog, new Date(at.getTime() + DAY))];
    const seen = {
      outcome,
      term: await termOf(sub.subscriptionId),
      fees: (await feesOf(sub.subscriptionId)).length,
      refusedFee: (await txOf(`RENEWAL:${sub.subscriptionId}:${periodEnd.toISOString()}`)).map(({ kind, refused, entries }) => ({ kind, refused, entries })),
      buckets: await bucketsOf(acc),
      balance: await balanceOf(svc, walletId),
      feeDueEvents: (await outboxEventsOf(svc, EVENTS.bundleFeeDue.subject, acc)).length,
      passes: passes.map((p) => p.RENEWED + p.FEE_NOT_COVERED + p.FEE_REFUSED),
    };
    // The paid first period and the refused renewal's decision (no entries), as a refused one-off's.
    expect(seen, JSON.stringify(seen)).toEqual({
      outcome: 'FEE_REFUSED', term: { fee_state: 'REFUSED', renewals: 0, period_start: T0 }, fees: 2,
      refusedFee: [{ kind: 'RECURRING_FEE', refused: 'WALLET_SETTLED', entries: '0' }], buckets: 1, balance: '40', feeDueEvents: 0, passes: [0, 0],
    });
  }, 30_000);

  it('inside the grace a period starting at or after closedAt is refused WALLET_CLOSED; one starting before it is still paid', async () => {
    clock.set(T0);
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '50.00' });
    // Periods of 30 days ending just after and just before the close.
    const after = subscription(acc, new Date(CLOSED_AT.getTime() + HOUR - 30 * DAY));
    const before = subscription(acc, new Date(CLOSED_AT.getTime() - HOUR - 30 * DAY));
    await grant(after, T0); // 50 → 40
    await grant(before, T0); // 40 → 30
    await closeAccountAndWait(svc, acc, walletId, CLOSED_AT);
    const inGrace = new Date(CLOSED_AT.getTime() + 2 * HOUR);
    const outcomes = [await renew(after.subscriptionId, inGrace), await renew(before.subscriptionId, inGrace)];
    const refusedKey = `RENEWAL:${after.subscriptionId}:${new Date(CLOSED_AT.getTime() + HOUR).toISOString()}`;
    const seen = {
      outcomes, states: [(await termOf(after.subscriptionId))?.fee_state, (await termOf(before.subscriptionId))?.fee_state], balance: await balanceOf(svc, walletId),
      refusedFee: (await txOf(refusedKey)).map(({ kind, refused, entries }) => ({ kind, refused, entries })),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      outcomes: ['FEE_REFUSED', 'RENEWED'], states: ['REFUSED', null], balance: '20', refusedFee: [{ kind: 'RECURRING_FEE', refused: 'WALLET_CLOSED', entries: '0' }],
    });
  }, 30_000);

  it("a subscription's first period reaching a settled wallet is refused WALLET_SETTLED: no fee, no allowances; a redelivery changes nothing", async () => {
    const { billingAccountId: acc, walletId } = await closedPrepaidWallet(svc, clock, '30.00');
    clock.set(AFTER_SETTLEMENT);
    const sub = subscription(acc, new Date(CLOSED_AT.getTime() - HOUR));
    const granted = [await grant(sub, AFTER_SETTLEMENT), await grant(sub, AFTER_SETTLEMENT)];
    // A renewal of the same period (the term's fee_state lost, as a term written before it was
    // kept) finds the refusal on the ledger: refused again, not read as paid and granted.
    await dbOf(svc).query(`update subscription_term set fee_state = null, period_end = $2 where subscription_id = $1`, [sub.subscriptionId, new Date(sub.startsAt)]);
    const renewed = await renew(sub.subscriptionId, AFTER_SETTLEMENT);
    const seen = {
      granted, renewed, term: (await termOf(sub.subscriptionId))?.fee_state, fees: (await feesOf(sub.subscriptionId)).length,
      refusedFee: (await txOf(`RENEWAL:${sub.subscriptionId}:${sub.startsAt}`)).map(({ kind, refused, entries }) => ({ kind, refused, entries })),
      buckets: await bucketsOf(acc), balance: await balanceOf(svc, walletId),
      feeDueEvents: (await outboxEventsOf(svc, EVENTS.bundleFeeDue.subject, acc)).length,
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      granted: [0, 0], renewed: 'FEE_REFUSED', term: 'REFUSED', fees: 1, refusedFee: [{ kind: 'RECURRING_FEE', refused: 'WALLET_SETTLED', entries: '0' }], buckets: 0, balance: '30', feeDueEvents: 0,
    });
  }, 30_000);
});

describe('charges a closed wallet will not collect', () => {
  it('a one-off charge still due at the settlement takes what the wallet holds; only the rest is refused WALLET_SETTLED and handed to finance (charge.refused); a redelivery finds it decided', async () => {
    clock.set(T0);
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '3.00' });
    const due = oneOff(acc, '5.00', { chargedAt: T0.toISOString() });
    expect(await apply(due, T0)).toBe('DUE');
    await closeAccountAndWait(svc, acc, walletId, CLOSED_AT);
    const settledAt = new Date(FINAL_AT.getTime() + 60_000);
    clock.set(settledAt);
    await runWalletJobs(dbOf(svc), settledAt);
    await runWalletJobs(dbOf(svc), new Date(settledAt.getTime() + HOUR));
    const tx = await txOf(`CHARGE:${due.chargeId}`);
    const seen = {
      tx: tx.map(({ kind, refused, entries }) => ({ kind, refused, entries })),
      moved: await movedBy(tx[0]?.id, walletId),
      open: (await dbOf(svc).query(`select id from due_charge where id = $1 and settled_at is null`, [due.chargeId])).length,
      redelivered: await apply(due, AFTER_SETTLEMENT),
      balance: await balanceOf(svc, walletId),
      settled: (await outboxEventsOf(svc, EVENTS.walletSettled.subject, acc)).map((e) => e.data.wallets.map((w: any) => w.balance.amount)),
      events: await refusedEvents(acc),
    };
    // 3.00 of the 5.00 is taken from the wallet (its decision and the part paid under the charge's
    // key); finance pays out nothing and bills the 2.00 left: the customer is neither refunded 3.00
    // nor invoiced 5.00.
    expect(seen, JSON.stringify(seen)).toEqual({
      tx: [{ kind: 'ONE_OFF_CHARGE', refused: 'WALLET_SETTLED', entries: '2' }],
      moved: '-3.000000',
      open: 0,
      redelivered: 'ALREADY',
      balance: '0',
      settled: [['0.000000']],
      events: [expect.objectContaining({
        chargeId: due.chargeId, billingAccountId: acc, walletId, lineId: 'lin_1', reason: 'ADD_ON_PURCHASE', description: 'Data boost', amount: { amount: '2.000000', currency: 'EUR' },
        chargeAmount: { amount: '5.000000', currency: 'EUR' }, collected: { amount: '3.000000', currency: 'EUR' },
        refusal: 'WALLET_SETTLED', dueSince: T0.toISOString(), transactionId: tx[0]?.id, closedAt: CLOSED_AT.toISOString(), settledAt: settledAt.toISOString(), refusedAt: settledAt.toISOString(),
      })],
    });
  }, 30_000);

  it('due charges are netted oldest first in whole minor units: the oldest gets what the wallet holds, a later one nothing; the sub-cent residue is written off', async () => {
    clock.set(T0);
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '1.00' });
    const first = oneOff(acc, '4.00', { chargedAt: T0.toISOString() });
    const second = oneOff(acc, '5.00', { chargedAt: T0.toISOString() });
    const third = oneOff(acc, '2.50', { chargedAt: T0.toISOString() });
    expect([await apply(first, T0), await apply(second, new Date(T0.getTime() + 1000)), await apply(third, new Date(T0.getTime() + 2000))]).toEqual(['DUE', 'DUE', 'DUE']);
    // A credit inside the grace goes into the balance the settlement carries: 1.00 + 6.007 = 7.007,
    // which pays the 4.00 (a credit pays due charges oldest first while they are covered) → 3.007.
    await apply(oneOff(acc, '-6.007', { reason: 'PLAN_CHANGE_PRORATION', kind: 'CREDIT', chargedAt: T0.toISOString() }), T0);
    await closeAccountAndWait(svc, acc, walletId, CLOSED_AT);
    const paidBefore = (await dbOf(svc).query(`select id from due_charge where id = $1 and settled_at is not null`, [first.chargeId])).length;
    const settledAt = new Date(FINAL_AT.getTime() + 60_000);
    await runWalletJobs(dbOf(svc), settledAt);
    await runWalletJobs(dbOf(svc), new Date(settledAt.getTime() + HOUR));
    const shape = async (id: string) => (await txOf(`CHARGE:${id}`)).map(async (t) => ({ refused: t.refused ?? null, entries: t.entries, moved: await movedBy(t.id, walletId) }));
    const seen = {
      paidBefore,
      second: await Promise.all(await shape(second.chargeId)),
      third: await Promise.all(await shape(third.chargeId)),
      open: (await dbOf(svc).query(`select id from due_charge where billing_account_id = $1 and settled_at is null`, [acc])).length,
      balance: await balanceOf(svc, walletId),
      rounding: (await dbOf(svc).query(`select id from ledger_transaction where kind = 'ROUNDING_WRITE_OFF' and reference = $1`, [walletId])).length,
      events: (await refusedEvents(acc)).map((e) => ({ chargeId: e.chargeId, amount: e.amount.amount, collected: e.collected?.amount })).sort((a, b) => a.amount.localeCompare(b.amount)),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      paidBefore: 1,
      // 3.007 held: 3.00 towards the 5.00 (2.00 refused), nothing for the 2.50, 0.007 written off.
      second: [{ refused: 'WALLET_SETTLED', entries: '2', moved: '-3.000000' }],
      third: [{ refused: 'WALLET_SETTLED', entries: '0', moved: null }],
      open: 0,
      balance: '0',
      rounding: 1,
      events: [
        { chargeId: second.chargeId, amount: '2.000000', collected: '3.000000' },
        { chargeId: third.chargeId, amount: '2.500000', collected: '0.000000' },
      ],
    });
  }, 30_000);

  it('a late one-off charge the closed wallet refuses is handed to finance once (charge.refused), after the settlement and inside the grace', async () => {
    const { billingAccountId: acc } = await closedPrepaidWallet(svc, clock, '30.00', false);
    const inGrace = new Date(CLOSED_AT.getTime() + HOUR);
    const afterClose = oneOff(acc, '2.00', { chargedAt: new Date(CLOSED_AT.getTime() + 60_000).toISOString() });
    await apply(afterClose, inGrace);
    const settledAt = new Date(FINAL_AT.getTime() + 60_000);
    await runWalletJobs(dbOf(svc), settledAt);
    const late = oneOff(acc, '4.00');
    const outcomes = [await apply(late, AFTER_SETTLEMENT), await apply(late, AFTER_SETTLEMENT)];
    // The outbox is read in no particular order.
    const events = (await refusedEvents(acc)).sort((a, b) => String(a.refusal).localeCompare(String(b.refusal)));
    const seen = { outcomes, events: events.map((e) => ({ chargeId: e.chargeId, refusal: e.refusal, amount: e.amount.amount, dueSince: e.dueSince, settledAt: e.settledAt })) };
    expect(seen, JSON.stringify(seen)).toEqual({
      outcomes: ['WALLET_SETTLED', 'ALREADY'],
      events: [
        { chargeId: afterClose.chargeId, refusal: 'WALLET_CLOSED', amount: '2.000000', dueSince: null, settledAt: null },
        { chargeId: late.chargeId, refusal: 'WALLET_SETTLED', amount: '4.000000', dueSince: null, settledAt: settledAt.toISOString() },
      ],
    });
  }, 30_000);
});
