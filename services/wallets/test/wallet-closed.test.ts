// A closed billing account's wallet (subscribers' billingaccount.closed, every line terminated first).
//
// The wallet becomes CLOSED (status + closedAt, shown on the GraphQL Wallet) and wallets emits
// billing.wallets.wallet.closed with what is left on it per currency, for finance to pay out (no
// payout operation exists: the balance stays on the ledger). From then on a top-up, a recharge, a
// voucher redemption, a reservation and a charge of usage after closedAt are refused WALLET_CLOSED
// (GraphQL: CONFLICT naming input.billingAccountId; the NATS charge path: a DENIED ChargeResult with
// that reason) and the balance does not move; usage that occurred before closedAt and arrives late
// is still charged, as an ended bucket still serves its period's late usage. The event redelivered
// changes nothing and emits nothing; an invalid event, or one for an account wallets does not know,
// is counted and acknowledged and the next one is applied.
//
// Runs on a private nats-server: a poison event on the shared BILLING stream would reach every
// other wallets service running on this machine.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BILLING_STREAM, EVENTS, WORK_SUBJECTS, chargeResultsOf, type ChargeResult } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, balanceOf, charge, dbOf, eventually, expectInvariants, gql, openPrepaid, outboxEventsOf, outcomeOf, publishAccountClosed, startWalletsOnPrivateNats, uniq } from './support';

let svc: TestService;
let stop: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ svc, stop } = await startWalletsOnPrivateNats());
}, 60_000);
afterAll(async () => stop?.());
afterEach(async () => expectInvariants(svc));

const CLOSED_AT = new Date(T0.getTime() + 3600_000);
const WALLET = `query($id: ID!) { wallet(id: $id) { status closedAt balance { amount currency } } }`;

const closed = (billingAccountId: string, over: Record<string, unknown> = {}) => publishAccountClosed(svc, billingAccountId, CLOSED_AT, over);

async function subscribersPending(): Promise<number> {
  const durable = `wallets-subscribers-${svc.schema.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
  return (await svc.runtime.messaging.jsm.consumers.info(BILLING_STREAM.name, durable)).num_ack_pending;
}

const closedEvents = (billingAccountId: string) => outboxEventsOf(svc, EVENTS.walletClosed.subject, billingAccountId);

/** A prepaid wallet with 30 EUR, closed by the event (waits until it is). */
async function closedWallet() {
  const w = await openPrepaid(svc, { balance: '30.00' });
  await closed(w.billingAccountId);
  const status = await eventually(async () => ((await gql(svc, WALLET, { id: w.walletId })).wallet.status === 'CLOSED' ? 'CLOSED' : null));
  expect(status).toBe('CLOSED');
  return w;
}

const dropped = async (reason: string) => (await svc.runtime.metrics.getSingleMetric('ledgerline_wallets_subscriber_events_dropped_total')?.get())?.values.filter((v) => v.labels.reason === reason).reduce((n, v) => n + v.value, 0) ?? 0;

describe('a closed billing account closes its wallet', () => {
  it('billingaccount.closed makes the wallet CLOSED, keeps its balance and emits wallet.closed with the balance left', async () => {
    const { billingAccountId, walletId } = await closedWallet();
    const wallet = (await gql(svc, WALLET, { id: walletId })).wallet;
    const events = await closedEvents(billingAccountId);
    const seen = { wallet, events: events.map((e) => e.data) };
    expect(seen, JSON.stringify(seen)).toEqual({
      wallet: { status: 'CLOSED', closedAt: CLOSED_AT.toISOString(), balance: { amount: '30', currency: 'EUR' } },
      events: [expect.objectContaining({ billingAccountId, closedAt: CLOSED_AT.toISOString(), reason: 'customer left', wallets: [expect.objectContaining({ walletId, currency: 'EUR', paymentMode: 'PREPAID', balance: { amount: '30.000000', currency: 'EUR' } })] })],
    });
  }, 30_000);

  it('after it a top-up, a recharge, a voucher, a reservation and a charge are refused WALLET_CLOSED and the balance stays', async () => {
    const { billingAccountId, walletId } = await closedWallet();
    const topup = await svc.request(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId, amount: { amount: '5.00', currency: 'EUR' }, idempotencyKey: uniq('key'), reference: 'test' } });
    const card = await svc.request(`mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id } } }`, { i: { billingAccountId, amount: { amount: '5.00', currency: 'EUR' }, method: 'CARD', paymentMethodToken: 'tok_visa', idempotencyKey: uniq('key') } });
    const transfer = await svc.request(`mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id } } }`, { i: { billingAccountId, amount: { amount: '5.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: uniq('key') } });
    const v = await gql(svc, `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id } } }`, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '5.00', currency: 'EUR' }, expiresAt: new Date(Date.now() + 86_400_000).toISOString() } });
    const voucher = await svc.request(`mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id } } }`, { i: { billingAccountId, code: v.issueVoucher.code, idempotencyKey: uniq('key') } });
    const reservation = await svc.request(`mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode } }`, {
      i: { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '1', pricePerUnit: '1.00', allowanceIds: [] },
    });
    const after = new Date(CLOSED_AT.getTime() + 60_000).toISOString();
    const charged = await svc.request(APPLY, { i: charge(billingAccountId, { occurredAt: after }) });
    const refusals = [topup, card, transfer, voucher, reservation, charged];
    const seen = {
      outcomes: refusals.map(outcomeOf),
      fields: refusals.map((r) => (r.errors?.[0]?.extensions as { field?: string } | undefined)?.field),
      balance: await balanceOf(svc, walletId),
      voucher: (await dbOf(svc).query(`select status from voucher where id = $1`, [v.issueVoucher.voucher.id]))[0]?.status,
      recharges: (await dbOf(svc).query(`select id from recharge where billing_account_id = $1`, [billingAccountId])).length,
      reservations: (await dbOf(svc).query(`select id from reservation where billing_account_id = $1`, [billingAccountId])).length,
    };
    expect(seen, JSON.stringify(seen)).toEqual({
      outcomes: Array(6).fill('CONFLICT:WALLET_CLOSED'),
      fields: Array(6).fill('input.billingAccountId'),
      balance: '30',
      voucher: 'ACTIVE',
      recharges: 0,
      reservations: 0,
    });
  }, 30_000);

  it('over NATS a charge after closedAt is DENIED WALLET_CLOSED, late usage from before it is still charged', async () => {
    const { billingAccountId, walletId } = await closedWallet();
    const results = new Map<string, ChargeResult>();
    const sub = svc.runtime.messaging.nc.subscribe(WORK_SUBJECTS.chargeApplied, { callback: (_e, m) => { for (const r of chargeResultsOf(m.json()).results) if (r.billingAccountId === billingAccountId) results.set(r.chargeId, r); } });
    const late = charge(billingAccountId, { units: '4', pricePerUnit: '1.00', occurredAt: new Date(CLOSED_AT.getTime() - 60_000).toISOString() });
    const after = charge(billingAccountId, { units: '4', pricePerUnit: '1.00', occurredAt: CLOSED_AT.toISOString() });
    for (const c of [late, after]) await svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeRequested, JSON.stringify(c), { msgID: c.chargeId });
    await eventually(async () => (results.size === 2 ? true : null), 20_000);
    sub.unsubscribe();
    const seen = {
      late: results.get(late.chargeId) && { outcome: results.get(late.chargeId)!.outcome, amount: results.get(late.chargeId)!.amountCharged },
      after: results.get(after.chargeId) && { outcome: results.get(after.chargeId)!.outcome, amount: results.get(after.chargeId)!.amountCharged, reason: results.get(after.chargeId)!.reason?.split(':')[0] },
      balance: await balanceOf(svc, walletId),
    };
    expect(seen, JSON.stringify(seen)).toEqual({ late: { outcome: 'APPLIED', amount: '4.000000' }, after: { outcome: 'DENIED', amount: '0.000000', reason: 'WALLET_CLOSED' }, balance: '26' });
  }, 45_000);

  it('the event redelivered changes nothing and emits nothing again', async () => {
    const { billingAccountId, walletId } = await closedWallet();
    // Redelivered (a new message), even with another closedAt: the wallet keeps the first close.
    await closed(billingAccountId);
    await closed(billingAccountId, { closedAt: new Date(CLOSED_AT.getTime() + 86_400_000).toISOString() });
    // A later event on the same consumer, applied after the copies: they have been handled by then.
    const marker = await openPrepaid(svc);
    await closed(marker.billingAccountId);
    await eventually(async () => ((await gql(svc, WALLET, { id: marker.walletId })).wallet.status === 'CLOSED' ? true : null));
    const seen = { wallet: (await gql(svc, WALLET, { id: walletId })).wallet, events: (await closedEvents(billingAccountId)).length, pending: (await eventually(async () => ((await subscribersPending()) === 0 ? 'none' : null), 5_000)) ?? await subscribersPending() };
    expect(seen, JSON.stringify(seen)).toEqual({ wallet: { status: 'CLOSED', closedAt: CLOSED_AT.toISOString(), balance: { amount: '30', currency: 'EUR' } }, events: 1, pending: 'none' });
  }, 30_000);

  it('an invalid event or an unknown account is counted and acknowledged, and the next event is applied', async () => {
    const bad = await openPrepaid(svc, { balance: '10.00' });
    const good = await openPrepaid(svc, { balance: '10.00' });
    const before = { invalid: await dropped('CLOSED_AT_INVALID'), unknown: await dropped('WALLET_NOT_FOUND') };
    await closed(bad.billingAccountId, { closedAt: 'yesterday' });
    await closed(uniq('acc'));
    await closed(good.billingAccountId);
    const status = await eventually(async () => ((await gql(svc, WALLET, { id: good.walletId })).wallet.status === 'CLOSED' ? 'CLOSED' : null));
    const pending = await eventually(async () => ((await subscribersPending()) === 0 ? 'none' : null), 5_000);
    const seen = {
      good: status,
      bad: (await gql(svc, WALLET, { id: bad.walletId })).wallet.status,
      badEvents: (await closedEvents(bad.billingAccountId)).length,
      dropped: { invalid: (await dropped('CLOSED_AT_INVALID')) - before.invalid, unknown: (await dropped('WALLET_NOT_FOUND')) - before.unknown },
      pending: pending ?? await subscribersPending(),
    };
    expect(seen, JSON.stringify(seen)).toEqual({ good: 'CLOSED', bad: 'OPEN', badEvents: 0, dropped: { invalid: 1, unknown: 1 }, pending: 'none' });
  }, 30_000);
});
