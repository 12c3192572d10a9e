// Invoicing dropped a postpaid one-off whose description was longer than its column (the fee was
// never billed). Wallets, the other consumer of `oneoffcharge.created` (prepaid accounts), keeps the
// description in text columns (due_charge.description, the CHARGE_DUE message) and nothing else of
// it: a charge with a description longer than the contract's limit is still taken, or kept as due.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ONE_OFF_DESCRIPTION_MAX, type OneOffChargeData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { applyOneOffCharge } from '../src/application/one-off-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const description = 'Plan change administration fee '.repeat(20).slice(0, ONE_OFF_DESCRIPTION_MAX + 100);
const fee = (billingAccountId: string, amount: string): OneOffChargeData => ({
  chargeId: uniq('ooc'), billingAccountId, lineId: 'lin_1', subscriptionId: 'sub_1', orderId: 'ord_1', kind: 'CHARGE', reason: 'PLAN_CHANGE_FEE',
  amount, currency: 'EUR', description, periodStart: null, periodEnd: null, chargedAt: T0.toISOString(),
});
const apply = (d: OneOffChargeData) => dbOf(svc).tx((sql) => applyOneOffCharge(sql, d, T0));

describe('a prepaid one-off charge with a description longer than the contract allows', () => {
  it('is taken from the balance when it covers it, and kept as due (description and all) when not', async () => {
    const rich = await openPrepaid(svc, { balance: '20.00' });
    expect(await apply(fee(rich.billingAccountId, '4.95'))).toBe('TAKEN');
    expect(await balanceOf(svc, rich.walletId)).toBe('15.05');

    const poor = await openPrepaid(svc);
    const due = fee(poor.billingAccountId, '3.00');
    expect(await apply(due)).toBe('DUE');
    expect(await dbOf(svc).query(`select description, amount::text from due_charge where id = $1`, [due.chargeId])).toEqual([{ description, amount: '3.000000' }]);
  });
});
