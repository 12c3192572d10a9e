// A prepaid one-off the balance could not pay waits as a due charge and the customer is told (CHARGE_DUE: "your next
// top-up pays it first", in the account's balance notifications). When the due charge is then closed without being
// taken — a charge under its chargeId refused it (closeDueChargesDecided, at the next credit or budget replenishment)
// or closeCharge closed the id — the customer was never told it is void. Now a CHARGE_DUE_CANCELLED balance
// notification says so (once per due charge). One the charge under its id took (paid) is not cancelled: no notice.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OneOffChargeData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, topup, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const CLOSE = `mutation($i: CloseChargeInput!) { closeCharge(input: $i) { taken outcome } }`;
const SET_LIMITS = `mutation($i: SetWalletLimitsInput!) { setWalletLimits(input: $i) { wallet { id } } }`;
const NOTICES = `query($r: [_Any!]!) { _entities(representations: $r) { ... on BillingAccount { balanceNotifications { kind message walletId } } } }`;

const oneOff = (billingAccountId: string, amount: string): OneOffChargeData => ({
  chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: null, orderId: 'ord_1', kind: 'CHARGE',
  reason: 'ADD_ON_PURCHASE', amount, currency: 'EUR', description: 'Data boost', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
});
const purchase = (billingAccountId: string, chargeId: string, price: string, allowOverdraft = false) =>
  charge(billingAccountId, { chargeId, usageType: 'ADD_ON', unit: 'ITEM', units: '1', pricePerUnit: price, allowOverdraft });
const notices = async (billingAccountId: string): Promise<{ kind: string; message: string; walletId: string | null }[]> =>
  (await gql(svc, NOTICES, { r: [{ __typename: 'BillingAccount', id: billingAccountId }] }))._entities[0].balanceNotifications;
const cancelled = async (billingAccountId: string) => (await notices(billingAccountId)).filter((n) => n.kind === 'CHARGE_DUE_CANCELLED');

describe('a due charge closed without being taken is told void', () => {
  it('refused by a charge under its chargeId: the next top-up closes it and the customer is told, once', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '2.00' });
    const d = oneOff(billingAccountId, '5.00');
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, T0))).toBe('DUE');
    expect((await notices(billingAccountId)).map((n) => n.kind)).toContain('CHARGE_DUE');
    expect((await gql(svc, APPLY, { i: purchase(billingAccountId, d.chargeId, '5.00') })).applyCharge.result.outcome).toBe('DENIED');
    await topup(svc, billingAccountId, '10.00');
    expect(await cancelled(billingAccountId)).toEqual([{ kind: 'CHARGE_DUE_CANCELLED', walletId, message: 'Data boost: 5.00 EUR is no longer due and was not taken from your balance.' }]);
    await topup(svc, billingAccountId, '1.00');
    expect(await cancelled(billingAccountId), 'once').toHaveLength(1);
  });

  it('closed by closeCharge: the customer is told', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const d = oneOff(billingAccountId, '5.00');
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, T0))).toBe('DUE');
    expect((await gql(svc, CLOSE, { i: { chargeId: d.chargeId, billingAccountId } })).closeCharge.taken).toBe(false);
    expect(await cancelled(billingAccountId)).toEqual([{ kind: 'CHARGE_DUE_CANCELLED', walletId, message: 'Data boost: 5.00 EUR is no longer due and was not taken from your balance.' }]);
    await gql(svc, CLOSE, { i: { chargeId: d.chargeId, billingAccountId } });
    expect(await cancelled(billingAccountId), 'once').toHaveLength(1);
  });

  it('taken by the charge under its chargeId: paid, not cancelled, no notice', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const d = oneOff(billingAccountId, '5.00');
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, T0))).toBe('DUE');
    await gql(svc, SET_LIMITS, { i: { walletId, overdraftLimit: '10.00' } });
    expect((await gql(svc, APPLY, { i: purchase(billingAccountId, d.chargeId, '5.00', true) })).applyCharge.result.outcome).toBe('APPLIED');
    await topup(svc, billingAccountId, '10.00');
    const [due] = await dbOf(svc).query<{ settled: boolean }>(`select settled_at is not null as settled from due_charge where id = $1`, [d.chargeId]);
    expect(due?.settled).toBe(true);
    expect(await cancelled(billingAccountId)).toEqual([]);
  });
});
