// One-off charges and credits, and bundle refunds, that reach a closed wallet late.
//
// Subscribers sends them before billingaccount.closed, but a late one (a failed add-on order's
// refund made by its saga later, a redelivery after the close) still reaches wallets. They used to
// post to the wallet whatever its state: after the settlement (wallet.settled gave finance the final
// balance to pay out) a credit silently raised that balance (and paid due charges from it), and a
// charge silently lowered it (or left it owing a due charge). Now:
// - inside the grace (closed, not settled) they follow late usage: a charge incurred before closedAt
//   is taken until finalAt, one incurred at or after closedAt is refused WALLET_CLOSED, one arriving
//   from finalAt on WALLET_BALANCE_FINAL; a credit goes into the balance until the settlement (as a
//   bank transfer announced before the close), so the settled figure includes it;
// - after the settlement a charge is refused WALLET_SETTLED (a ledger row with the decision and no
//   entries, counted and logged), and a credit or refund owed to the customer is recorded as owed:
//   kind CREDIT_OWED onto the settled wallet (where a returned payout goes too), with
//   billing.wallets.wallet.creditowed telling finance to pay it out (payOutWalletBalance); it pays no
//   due charge. The ledger check: after its settlement a wallet moves only by payouts, returned
//   payouts, rounding write-offs and owed credits.
//
// Runs on a private nats-server with its own manual clock (as wallet-closed-grace.test.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Decimal, EVENTS, createCloudEvent, type OneOffChargeData, type SubscriptionData } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { CLOSED_AT, FINAL_AT, HOUR, T0, balanceOf, closeAccountAndWait, closedPrepaidWallet, dbOf, eventually, expectInvariants, openPrepaid, outboxEventsOf, startWalletsOnPrivateNats, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { followSubscriptionChange } from '../src/application/subscription-terms';
import { accountId, newTxId, postTransactions } from '../src/application/ledger';
import { checkLedgerInvariants } from '../src/persistence/invariants';
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

const AFTER_SETTLEMENT = new Date(FINAL_AT.getTime() + 2 * HOUR);

const oneOff = (billingAccountId: string, amount: string, over: Partial<OneOffChargeData> = {}): OneOffChargeData => ({
  chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: amount.startsWith('-') ? 'CREDIT' : 'CHARGE',
  reason: 'ADD_ON_PURCHASE', amount, currency: 'EUR', description: 'Data boost', periodStart: null, periodEnd: null, chargedAt: new Date(CLOSED_AT.getTime() - 60_000).toISOString(), ...over,
});
const apply = (d: OneOffChargeData, now: Date) => dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, now));
const txOf = async (key: string) =>
  (await dbOf(svc).query<{ kind: string; outcome: any; entries: string }>(
    `select t.kind, t.outcome, (select count(*) from ledger_entry e where e.transaction_id = t.id)::text as entries from ledger_transaction t where t.idempotency_key = $1`, [key],
  )).map((t) => ({ kind: t.kind, reason: String(t.outcome?.refused ?? '') || undefined, entries: t.entries }));
const dueOf = async (acc: string) => (await dbOf(svc).query<{ id: string }>(`select id from due_charge where billing_account_id = $1 and settled_at is null`, [acc])).map((r) => r.id);
const owedEvents = async (acc: string) => (await outboxEventsOf(svc, 'billing.wallets.wallet.creditowed', acc)).map((e) => e.data);
const dropped = async (reason: string) => (await svc.runtime.metrics.getSingleMetric('ledgerline_wallets_subscriber_events_dropped_total')?.get())?.values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0) ?? 0;

describe('one-offs and refunds reaching a closed wallet late', () => {
  it('after the settlement a late credit is recorded as owed to the customer (CREDIT_OWED + wallet.creditowed) and pays no due charge; a redelivery adds nothing', async () => {
    const { billingAccountId: acc, walletId } = await closedPrepaidWallet(svc, clock, '30.00');
    clock.set(AFTER_SETTLEMENT);
    const credit = oneOff(acc, '-5.00');
    const outcomes = [await apply(credit, AFTER_SETTLEMENT), await apply(credit, AFTER_SETTLEMENT)];
    const seen = { outcomes, tx: await txOf(`CHARGE:${credit.chargeId}`), balance: await balanceOf(svc, walletId), owed: await owedEvents(acc) };
    expect(seen, JSON.stringify(seen)).toEqual({
      outcomes: ['OWED', 'ALREADY'],
      tx: [{ kind: 'CREDIT_OWED', reason: undefined, entries: '2' }],
      balance: '35',
      owed: [expect.objectContaining({
        billingAccountId: acc, walletId, source: 'ONE_OFF_CREDIT', sourceId: credit.chargeId,
        amount: { amount: '5.000000', currency: 'EUR' }, balanceAfter: { amount: '35.000000', currency: 'EUR' }, recordedAt: AFTER_SETTLEMENT.toISOString(),
      })],
    });
  }, 30_000);

  it('after the settlement a late charge is refused WALLET_SETTLED: nothing taken, nothing due, the refusal kept in the ledger with no entries and counted', async () => {
    const { billingAccountId: acc, walletId } = await closedPrepaidWallet(svc, clock, '30.00');
    clock.set(AFTER_SETTLEMENT);
    const covered = oneOff(acc, '4.00');
    const uncovered = oneOff(acc, '50.00');
    const outcomes = [await apply(covered, AFTER_SETTLEMENT), await apply(uncovered, AFTER_SETTLEMENT), await apply(covered, AFTER_SETTLEMENT)];

    // Over JetStream, as subscribers sends it: refused, acknowledged and counted.
    const before = await dropped('WALLET_SETTLED');
    const late = oneOff(acc, '3.00');
    const event = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.oneOffChargeCreated.type, subject: late.chargeId, time: AFTER_SETTLEMENT, key: [late.chargeId], data: late });
    await svc.runtime.messaging.js.publish(EVENTS.oneOffChargeCreated.subject, JSON.stringify(event), { msgID: uniq('msg') });
    await eventually(async () => (await txOf(`CHARGE:${late.chargeId}`)).length > 0, 15_000);

    const seen = {
      outcomes,
      covered: await txOf(`CHARGE:${covered.chargeId}`),
      uncovered: await txOf(`CHARGE:${uncovered.chargeId}`),
      late: await txOf(`CHARGE:${late.chargeId}`),
      counted: (await dropped('WALLET_SETTLED')) - before,
      balance: await balanceOf(svc, walletId),
      due: await dueOf(acc),
      dueEvents: (await outboxEventsOf(svc, EVENTS.chargeDue.subject, acc)).length,
    };
    const refused = [{ kind: 'ONE_OFF_CHARGE', reason: 'WALLET_SETTLED', entries: '0' }];
    expect(seen, JSON.stringify(seen)).toEqual({
      outcomes: ['WALLET_SETTLED', 'WALLET_SETTLED', 'ALREADY'],
      covered: refused, uncovered: refused, late: refused, counted: 1,
      balance: '30', due: [], dueEvents: 0,
    });
  }, 30_000);

  it("a bundle's unused-days refund after the settlement is owed to the customer, not credited to the settled balance", async () => {
    clock.set(T0);
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '50.00' });
    const terms: PlanTerms = { recurringFee: { amount: '10.00', period: 'DAYS30', proration: 'DAILY' }, allowances: [{ id: 'data', unit: 'MB', quantity: '1024', validity: 'PERIOD' }] };
    const sub: SubscriptionData = {
      subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId: acc, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'BUNDLE', planVersionId: 'pv_bundle',
      status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
    };
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, terms, T0)); // 50 → 40
    await closeAccountAndWait(svc, acc, walletId, CLOSED_AT);
    clock.set(new Date(FINAL_AT.getTime() + 60_000));
    expect((await runWalletJobs(dbOf(svc), clock.now())).walletsSettled).toBeGreaterThanOrEqual(1);

    // The line's end reaches wallets after the settlement: 29 of 30 days unused → 9.67.
    clock.set(AFTER_SETTLEMENT);
    const end = () => dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...sub, status: 'ENDED', endsAt: CLOSED_AT.toISOString() }, terms, AFTER_SETTLEMENT));
    await end();
    await end();
    const key = `RENEWAL_REFUND:${sub.subscriptionId}:${T0.toISOString()}`;
    const seen = { tx: await txOf(key), balance: await balanceOf(svc, walletId), owed: await owedEvents(acc) };
    expect(seen, JSON.stringify(seen)).toEqual({
      tx: [{ kind: 'CREDIT_OWED', reason: undefined, entries: '2' }],
      balance: '49.67',
      owed: [expect.objectContaining({ walletId, source: 'BUNDLE_REFUND', sourceId: key, amount: { amount: '9.670000', currency: 'EUR' }, balanceAfter: { amount: '49.670000', currency: 'EUR' } })],
    });
  }, 30_000);

  it('inside the grace they follow late usage: a charge from before closedAt is taken, one from after it refused WALLET_CLOSED, one arriving from finalAt WALLET_BALANCE_FINAL; a credit goes into the balance the settlement carries', async () => {
    const { billingAccountId: acc, walletId } = await closedPrepaidWallet(svc, clock, '30.00', false);
    const inGrace = new Date(CLOSED_AT.getTime() + HOUR);
    clock.set(inGrace);
    const before = oneOff(acc, '4.00');
    const after = oneOff(acc, '2.00', { chargedAt: new Date(CLOSED_AT.getTime() + 60_000).toISOString() });
    const credit = oneOff(acc, '-1.50');
    const outcomes = [await apply(before, inGrace), await apply(after, inGrace), await apply(credit, inGrace)];
    const pastFinal = new Date(FINAL_AT.getTime() + 60_000);
    const final = oneOff(acc, '1.00');
    const lateCredit = oneOff(acc, '-0.50');
    outcomes.push(await apply(final, pastFinal), await apply(lateCredit, pastFinal));
    clock.set(pastFinal);
    await runWalletJobs(dbOf(svc), pastFinal);
    const settled = await outboxEventsOf(svc, EVENTS.walletSettled.subject, acc);
    const seen = {
      outcomes,
      after: await txOf(`CHARGE:${after.chargeId}`),
      final: await txOf(`CHARGE:${final.chargeId}`),
      balance: await balanceOf(svc, walletId),
      settled: settled.map((e) => e.data.wallets[0].balance.amount),
      owed: await owedEvents(acc),
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      outcomes: ['TAKEN', 'WALLET_CLOSED', 'CREDITED', 'WALLET_BALANCE_FINAL', 'CREDITED'],
      after: [{ kind: 'ONE_OFF_CHARGE', reason: 'WALLET_CLOSED', entries: '0' }],
      final: [{ kind: 'ONE_OFF_CHARGE', reason: 'WALLET_BALANCE_FINAL', entries: '0' }],
      balance: '28',
      settled: ['28.000000'],
      owed: [],
    });
  }, 30_000);

  it('the ledger check reports anything but a payout, a returned payout, a rounding write-off or an owed credit moving a settled wallet', async () => {
    const { billingAccountId: acc, walletId } = await closedPrepaidWallet(svc, clock, '30.00');
    const problems = await dbOf(svc).tx(async (sql) => {
      await postTransactions(sql, [{
        id: newTxId(), idempotencyKey: uniq('CHARGE:sneaky'), kind: 'ONE_OFF_CREDIT', billingAccountId: acc, reference: null,
        entries: [{ accountId: walletId, unit: 'EUR', amount: new Decimal('2') }, { accountId: accountId(acc, 'REVENUE', 'EUR'), unit: 'EUR', amount: new Decimal('-2') }],
      }], AFTER_SETTLEMENT);
      const found = await checkLedgerInvariants(sql);
      throw Object.assign(new Error('roll back'), { found });
    }).catch((e: { found?: string[] }) => e.found ?? [String(e)]);
    expect(problems.filter((p) => p.startsWith('after its settlement a wallet moves only by')), JSON.stringify(problems)).toHaveLength(1);
  }, 30_000);
});
