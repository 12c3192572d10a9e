// A prepaid one-off charge (subscribers' oneOffChargeCreated) and a charge sent by chargeId (GraphQL applyCharge, as
// the add-on's purchase; usage's charges) share the ledger key `CHARGE:<chargeId>`: one chargeId, one decision
// (ADR 18). Two ways the two met badly (session 33):
// (a) A one-off the balance could not pay waits as a due charge (no ledger row). A charge under its chargeId applied
//     afterwards decided afresh and wrote the key; the next credit (settleDueCharges) then wrote the key again to pay
//     the due charge: every top-up of the wallet failed (INTERNAL_SERVER_ERROR, unique idempotency_key) for good.
//     Now a due charge whose key holds a decision is settled by that row (paid by it when it took the money, closed
//     when it refused it, as closeCharge closes one), never taken twice; the credit goes through.
// (b) A charge under a chargeId a one-off had already taken (or credited, or refused) was answered with the one-off's
//     ledger row as it is stored (`{chargeId, reason, amount, currency}`): no outcome. GraphQL applyCharge failed
//     (ChargeResult.outcome is non-null), the charges consumer published a result chargeResultsOf leaves out. Now the
//     one-off's decision is answered as a ChargeResult: APPLIED with its amount, DENIED with its refusal.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { WORK_SUBJECTS, chargeResultsOf, type ChargeResult, type OneOffChargeData } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { APPLY, FINAL_AT, T0, balanceOf, charge, closedPrepaidWallet, dbOf, expectInvariants, gql, openPrepaid, outboxEventsOf, startWallets, topup, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';
import { runWalletJobs } from '../src/jobs/jobs';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const SET_LIMITS = `mutation($i: SetWalletLimitsInput!) { setWalletLimits(input: $i) { wallet { id } } }`;
const TOPUP = `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { balance { amount } } } }`;

const oneOff = (billingAccountId: string, amount: string, chargeId = uniq('ooc')): OneOffChargeData => ({
  chargeId, billingAccountId, lineId: 'lin_1', subscriptionId: null, orderId: 'ord_1', kind: amount.startsWith('-') ? 'CREDIT' : 'CHARGE',
  reason: 'ADD_ON_PURCHASE', amount, currency: 'EUR', description: 'Data boost', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
});
const applyOneOff = (d: OneOffChargeData, now = T0) => dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, now));
/** The add-on's purchase as subscribers sends it (wallets-client chargePurchase): one ITEM at the price. */
const purchase = (billingAccountId: string, chargeId: string, price: string, allowOverdraft = false) =>
  charge(billingAccountId, { chargeId, usageType: 'ADD_ON', unit: 'ITEM', units: '1', pricePerUnit: price, allowOverdraft });
const keyRows = (chargeId: string) =>
  dbOf(svc).query<{ id: string; kind: string }>(`select id, kind from ledger_transaction where idempotency_key = $1`, [`CHARGE:${chargeId}`]);
const dueOf = async (chargeId: string) =>
  (await dbOf(svc).query<{ settled: boolean; transaction_id: string | null }>(`select settled_at is not null as settled, transaction_id from due_charge where id = $1`, [chargeId]))[0];
const topupRaw = (billingAccountId: string, amount: string) =>
  svc.request(TOPUP, { i: { billingAccountId, amount: { amount, currency: 'EUR' }, idempotencyKey: uniq('key'), reference: 'test' } });
const lastTopupEvent = async (billingAccountId: string) => (await outboxEventsOf(svc, 'billing.wallets.balance.topup', billingAccountId)).at(-1)?.data;

describe('(a) a due one-off charge whose chargeId a charge decided afterwards', () => {
  it('taken by the charge: the top-up succeeds, the due charge is settled by that charge, the money moved once', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const d = oneOff(billingAccountId, '5.00');
    expect(await applyOneOff(d)).toBe('DUE');
    // The overdraft the add-on's charge may use comes after (the one-off was decided without it).
    await gql(svc, SET_LIMITS, { i: { walletId, overdraftLimit: '10.00' } });
    const applied = await gql(svc, APPLY, { i: purchase(billingAccountId, d.chargeId, '5.00', true) });
    expect(applied.applyCharge.result).toMatchObject({ outcome: 'APPLIED', amountCharged: { amount: '5' } });
    expect(await balanceOf(svc, walletId)).toBe('-5');

    const up = await topupRaw(billingAccountId, '20.00');
    expect(up.errors, 'the top-up after the charge').toBeUndefined();
    expect(await balanceOf(svc, walletId), 'the 5.00 taken once').toBe('15');
    const rows = await keyRows(d.chargeId);
    expect(rows.map((r) => r.kind)).toEqual(['CHARGE']);
    expect(await dueOf(d.chargeId)).toEqual({ settled: true, transaction_id: rows[0]!.id });
    // The top-up paid nothing due (the charge had): its event says so.
    expect(await lastTopupEvent(billingAccountId)).toMatchObject({ amount: '20.000000', duePaid: '0.000000', balance: { amount: '15.000000' } });
    // Nothing shown as due any more; a later top-up goes through too.
    const due = await gql(svc, `query($r: [_Any!]!) { _entities(representations: $r) { ... on BillingAccount { dueCharges { id } } } }`, { r: [{ __typename: 'BillingAccount', id: billingAccountId }] });
    expect(due._entities[0].dueCharges).toEqual([]);
    await topup(svc, billingAccountId, '1.00');
    expect(await balanceOf(svc, walletId)).toBe('16');
    // The one-off again (a redelivery): the key's decision, nothing more.
    expect(await applyOneOff(d)).toBe('ALREADY');
  });

  it('refused by the charge: the top-up succeeds, the due charge is closed by the refusal, nothing is taken', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '2.00' });
    const d = oneOff(billingAccountId, '5.00');
    expect(await applyOneOff(d)).toBe('DUE');
    const denied = await gql(svc, APPLY, { i: purchase(billingAccountId, d.chargeId, '5.00') });
    expect(denied.applyCharge.result.outcome).toBe('DENIED');

    const up = await topupRaw(billingAccountId, '20.00');
    expect(up.errors, 'the top-up after the refusal').toBeUndefined();
    // One decision per chargeId: refused, so the due charge is not taken under another key.
    expect(await balanceOf(svc, walletId)).toBe('22');
    const rows = await keyRows(d.chargeId);
    expect(rows.map((r) => r.kind)).toEqual(['CHARGE']);
    expect(await dueOf(d.chargeId)).toEqual({ settled: true, transaction_id: rows[0]!.id });
    expect(await lastTopupEvent(billingAccountId)).toMatchObject({ duePaid: '0.000000', balance: { amount: '22.000000' } });
  });

  it('an older due charge of its own is still paid, oldest first, next to it', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const first = oneOff(billingAccountId, '5.00');
    const other = oneOff(billingAccountId, '3.00');
    expect(await applyOneOff(first)).toBe('DUE');
    expect(await applyOneOff(other)).toBe('DUE');
    expect((await gql(svc, APPLY, { i: purchase(billingAccountId, first.chargeId, '5.00') })).applyCharge.result.outcome).toBe('DENIED');
    const up = await topupRaw(billingAccountId, '10.00');
    expect(up.errors).toBeUndefined();
    expect(await balanceOf(svc, walletId), 'only the other one-off is paid').toBe('7');
    expect((await keyRows(other.chargeId)).map((r) => r.kind)).toEqual(['ONE_OFF_CHARGE']);
    expect(await dueOf(other.chargeId)).toMatchObject({ settled: true });
    expect(await lastTopupEvent(billingAccountId)).toMatchObject({ duePaid: '3.000000' });
  });

  it('a closed wallet\'s settlement settles it by the charge\'s decision too (it netted the due charge under the taken key)', async () => {
    const { billingAccountId, walletId } = await closedPrepaidWallet(svc, clock, '1.00', false);
    const d = oneOff(billingAccountId, '5.00');
    expect(await applyOneOff(d)).toBe('DUE');
    expect((await gql(svc, APPLY, { i: purchase(billingAccountId, d.chargeId, '5.00') })).applyCharge.result.outcome).toBe('DENIED');
    clock.set(new Date(FINAL_AT.getTime() + 60_000));
    try {
      expect((await runWalletJobs(dbOf(svc), clock.now())).walletsSettled).toBeGreaterThanOrEqual(1);
      const [w] = await dbOf(svc).query<{ settled: boolean }>(`select settled_at is not null as settled from wallet where id = $1`, [walletId]);
      expect(w?.settled, 'the wallet is settled').toBe(true);
      const rows = await keyRows(d.chargeId);
      expect(rows.map((r) => r.kind)).toEqual(['CHARGE']);
      expect(await dueOf(d.chargeId)).toEqual({ settled: true, transaction_id: rows[0]!.id });
      expect(await balanceOf(svc, walletId), 'nothing netted').toBe('1');
    } finally {
      clock.set(T0);
    }
  });
});

describe('(b) a charge under a chargeId a one-off already decided', () => {
  it('GraphQL applyCharge answers the one-off\'s decision: APPLIED with its amount (taken), or its credit', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const d = oneOff(billingAccountId, '4.00');
    expect(await applyOneOff(d)).toBe('TAKEN');
    const r = await svc.request<any>(APPLY, { i: purchase(billingAccountId, d.chargeId, '4.00') });
    expect(r.errors).toBeUndefined();
    expect(r.data.applyCharge.result).toEqual({ chargeId: d.chargeId, outcome: 'APPLIED', units: '1', unitsFromAllowances: '0', amountCharged: { amount: '4' }, reason: null });
    expect(await balanceOf(svc, walletId), 'taken once').toBe('6');

    const credit = oneOff(billingAccountId, '-2.50');
    expect(await applyOneOff(credit)).toBe('CREDITED');
    const c = await svc.request<any>(APPLY, { i: purchase(billingAccountId, credit.chargeId, '2.50') });
    expect(c.errors).toBeUndefined();
    expect(c.data.applyCharge.result).toMatchObject({ outcome: 'APPLIED', amountCharged: { amount: '-2.5' } });
    expect(await balanceOf(svc, walletId)).toBe('8.5');
    expect(await keyRows(d.chargeId)).toHaveLength(1);
  });

  it('GraphQL applyCharge answers a one-off a settled wallet refused as DENIED with its refusal; nothing is taken', async () => {
    const { billingAccountId, walletId } = await closedPrepaidWallet(svc, clock, '1.00');
    const d = oneOff(billingAccountId, '4.00');
    expect(await applyOneOff(d, clock.now())).toBe('WALLET_SETTLED');
    const r = await svc.request<any>(APPLY, { i: purchase(billingAccountId, d.chargeId, '4.00') });
    expect(r.errors).toBeUndefined();
    expect(r.data.applyCharge.result).toMatchObject({ chargeId: d.chargeId, outcome: 'DENIED', units: '0', amountCharged: { amount: '0' } });
    expect(r.data.applyCharge.result.reason).toMatch(/^WALLET_SETTLED: The EUR wallet of billing account .* was settled at /);
    expect(await balanceOf(svc, walletId)).toBe('1');
    expect(await keyRows(d.chargeId)).toHaveLength(1);
    clock.set(T0);
  });

  it('the charges consumer publishes the one-off\'s decision as a ChargeResult with an outcome', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const d = oneOff(billingAccountId, '4.00');
    expect(await applyOneOff(d)).toBe('TAKEN');
    const published: ChargeResult[] = [];
    const invalid: unknown[] = [];
    const sub = svc.runtime.messaging.nc.subscribe(WORK_SUBJECTS.chargeApplied, {
      callback: (_e, m) => {
        const body = m.json<unknown>();
        const { results } = chargeResultsOf(body);
        published.push(...results.filter((r) => r.chargeId === d.chargeId));
        // What the old code sent: the one-off's row as stored, no outcome (left out by chargeResultsOf).
        const list = Array.isArray(body) ? body : [body];
        invalid.push(...list.filter((r) => r && typeof r === 'object' && (r as { chargeId?: unknown }).chargeId === d.chargeId && typeof (r as { outcome?: unknown }).outcome !== 'string'));
      },
    });
    try {
      await jetstream(svc.runtime.messaging.nc).publish(WORK_SUBJECTS.chargeRequested, JSON.stringify(purchase(billingAccountId, d.chargeId, '4.00')), { msgID: uniq('m') });
      const deadline = Date.now() + 15_000;
      while (published.length + invalid.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      sub.unsubscribe();
    }
    expect(invalid, 'results without an outcome').toEqual([]);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ chargeId: d.chargeId, outcome: 'APPLIED', billingAccountId, amountCharged: '4.000000', units: '1', currency: 'EUR' });
    expect(await balanceOf(svc, walletId)).toBe('6');
  });
});
