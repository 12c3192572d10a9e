// The CHARGE_DUE and BUNDLE_FEE_DUE texts (bug hunt, 2027-01) printed the balance rounded half-even to
// the minor unit: a balance rated charges left at 4.996 EUR read "5.00 EUR is due and your balance is
// 5.00 EUR", a fee the customer seems able to pay and is told to top up for. The balance is floored, as
// the LOW_BALANCE text already does (balance-messages.test.ts): it never reads as what it falls short of.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Decimal, type OneOffChargeData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { applyOneOffCharge } from '../src/application/one-off-charges';
import { markFeeDue } from '../src/application/period-fee';
import { APPLY, T0, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const messagesOf = async (billingAccountId: string, kind: string) =>
  (await dbOf(svc).query<{ message: string }>(`select message from notification where billing_account_id = $1 and kind = $2`, [billingAccountId, kind])).map((r) => r.message);

describe('a due notice never shows the balance as what it falls short of', () => {
  it('CHARGE_DUE: a 5.00 fee on a 4.996 balance says 4.99', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '5.00' });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '4', pricePerUnit: '0.001' }) }); // rated usage: 5 → 4.996
    const fee: OneOffChargeData = {
      chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'ACTIVATION_FEE',
      amount: '5.00', currency: 'EUR', description: 'Starter pack', periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
    };
    expect(await dbOf(svc).tx((sql) => applyOneOffCharge(sql, fee, T0))).toBe('DUE');
    // Before: "… 5.00 EUR is due and your balance is 5.00 EUR; …".
    expect(await messagesOf(billingAccountId, 'CHARGE_DUE')).toEqual(['Starter pack: 5.00 EUR is due and your balance is 4.99 EUR; your next top-up pays it first.']);
  });

  it('BUNDLE_FEE_DUE: a 10.00 bundle on a 9.996 balance says 9.99 (and a 3-decimal currency keeps its 3 decimals)', async () => {
    const billingAccountId = uniq('acc');
    const term = { subscription_id: uniq('sub'), billing_account_id: billingAccountId, line_id: 'lin_1', payment_mode: 'PREPAID' as const, currency: 'EUR' };
    await dbOf(svc).tx((sql) => markFeeDue(sql, term, { fee: new Decimal('10'), balance: new Decimal('9.996') }, T0, false, T0));
    await dbOf(svc).tx((sql) => markFeeDue(sql, { ...term, subscription_id: uniq('sub'), currency: 'KWD' }, { fee: new Decimal('3'), balance: new Decimal('2.9996') }, T0, false, T0));
    // Before: "… costs 10.00 EUR and your balance is 10.00 EUR …", "… 3.000 KWD and your balance is 3.000 KWD …".
    expect((await messagesOf(billingAccountId, 'BUNDLE_FEE_DUE')).sort()).toEqual([
      'Your bundle costs 10.00 EUR and your balance is 9.99 EUR: top up and it starts within a minute.',
      'Your bundle costs 3.000 KWD and your balance is 2.999 KWD: top up and it starts within a minute.',
    ]);
  });
});
