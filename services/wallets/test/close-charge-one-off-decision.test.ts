// closeCharge on a chargeId a prepaid one-off decided (subscribers' oneOffChargeCreated under the same key as the
// add-on's charge): before, ANY one-off row under the key was answered `taken: true, APPLIED` — a one-off a closed
// wallet refused (nothing taken) and a credit (ONE_OFF_CREDIT, CREDIT_OWED: money given, not taken) too, so
// subscribers (addOnChargeTaken, which decides whether a FAILED add-on's price is refunded) would refund money never
// taken. Now it answers the one-off's own decision, mapped as a charge under the key is answered (oneOffDecision).
// Through the real path: subscribers' GraphQL wallets client and addOnChargeTaken against this wallets service.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEV_INTERNAL_SECRET, type ManualClock, type TestService } from '@ledgerline/platform';
import type { OneOffChargeData } from '@ledgerline/contracts';
import { CLOSED_AT, T0, balanceOf, closedPrepaidWallet, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';
import { GraphqlWalletsClient } from '../../subscribers/src/ports/wallets-client';
import { addOnChargeTaken } from '../../subscribers/src/application/add-on-settlement';
import type { BillingAccount } from '../../subscribers/src/persistence/entities';

let svc: TestService;
let clock: ManualClock;
let client: GraphqlWalletsClient;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
  client = new GraphqlWalletsClient(svc.url, DEV_INTERNAL_SECRET);
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => {
  clock.set(T0);
  await expectInvariants(svc);
});

const CLOSE = `mutation($i: CloseChargeInput!) { closeCharge(input: $i) { taken outcome amountCharged { amount currency } reason } }`;

const oneOff = (billingAccountId: string, amount: string, chargedAt = T0): OneOffChargeData => ({
  chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: null, orderId: 'ord_1', kind: amount.startsWith('-') ? 'CREDIT' : 'CHARGE',
  reason: 'ADD_ON_PURCHASE', amount, currency: 'EUR', description: 'Data boost', periodStart: null, periodEnd: null, chargedAt: chargedAt.toISOString(),
});
const applyOneOff = (d: OneOffChargeData, now = T0) => dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, now));
const account = (id: string) => ({ id, paymentMode: 'PREPAID' }) as BillingAccount;
const close = async (chargeId: string, billingAccountId: string) => (await gql(svc, CLOSE, { i: { chargeId, billingAccountId } })).closeCharge;

describe('closeCharge answers a one-off\'s own decision', () => {
  it('a one-off taken from the balance: taken, APPLIED with its amount (subscribers refunds it)', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const d = oneOff(billingAccountId, '4.00');
    expect(await applyOneOff(d)).toBe('TAKEN');
    expect(await close(d.chargeId, billingAccountId)).toEqual({ taken: true, outcome: 'APPLIED', amountCharged: { amount: '4', currency: 'EUR' }, reason: null });
    expect(await addOnChargeTaken(client, { chargeId: d.chargeId, account: account(billingAccountId) })).toBe(true);
    expect(await balanceOf(svc, walletId)).toBe('6');
  });

  it('a one-off a closed wallet refused (WALLET_CLOSED): not taken, DENIED with the refusal (nothing to refund)', async () => {
    const { billingAccountId, walletId } = await closedPrepaidWallet(svc, clock, '1.00', false);
    const d = oneOff(billingAccountId, '4.00', new Date(CLOSED_AT.getTime() + 60_000));
    expect(await applyOneOff(d, new Date(CLOSED_AT.getTime() + 120_000))).toBe('WALLET_CLOSED');
    const closed = await close(d.chargeId, billingAccountId);
    expect(closed).toMatchObject({ taken: false, outcome: 'DENIED', amountCharged: { amount: '0', currency: 'EUR' } });
    expect(closed.reason).toMatch(/^WALLET_CLOSED: /);
    expect(await addOnChargeTaken(client, { chargeId: d.chargeId, account: account(billingAccountId) }), 'subscribers would refund 4.00 never taken').toBe(false);
    expect(await balanceOf(svc, walletId)).toBe('1');
  });

  it('a one-off a settled wallet refused (WALLET_SETTLED): not taken, DENIED', async () => {
    const { billingAccountId } = await closedPrepaidWallet(svc, clock, '1.00');
    const d = oneOff(billingAccountId, '4.00');
    expect(await applyOneOff(d, clock.now())).toBe('WALLET_SETTLED');
    expect(await close(d.chargeId, billingAccountId)).toMatchObject({ taken: false, outcome: 'DENIED' });
    expect(await addOnChargeTaken(client, { chargeId: d.chargeId, account: account(billingAccountId) })).toBe(false);
  });

  it('a one-off credit (ONE_OFF_CREDIT): not taken (the customer was given money), its credit as a negative amount', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const d = oneOff(billingAccountId, '-2.50');
    expect(await applyOneOff(d)).toBe('CREDITED');
    expect(await close(d.chargeId, billingAccountId)).toEqual({ taken: false, outcome: 'APPLIED', amountCharged: { amount: '-2.5', currency: 'EUR' }, reason: null });
    expect(await addOnChargeTaken(client, { chargeId: d.chargeId, account: account(billingAccountId) })).toBe(false);
    expect(await balanceOf(svc, walletId)).toBe('12.5');
  });

  it('a credit owed after the settlement (CREDIT_OWED): not taken, its credit as a negative amount', async () => {
    const { billingAccountId } = await closedPrepaidWallet(svc, clock, '1.00');
    const d = oneOff(billingAccountId, '-3.00');
    expect(await applyOneOff(d, clock.now())).toBe('OWED');
    expect(await close(d.chargeId, billingAccountId)).toEqual({ taken: false, outcome: 'APPLIED', amountCharged: { amount: '-3', currency: 'EUR' }, reason: null });
    expect(await addOnChargeTaken(client, { chargeId: d.chargeId, account: account(billingAccountId) })).toBe(false);
  });
});
