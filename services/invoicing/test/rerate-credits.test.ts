// A rerate's correction reaches invoicing as a charge of its own (kind ADJUSTMENT in wallets): a
// cheaper correction is a negative charge. It lowers the usage it corrects on the invoice of its
// period, and a correction of an invoiced period (adjustsInvoiceId) is a credit on the next one.
//
// Runs share NATS, and the consumer reads every run's events: other runs' accounts (their subscribers'
// billingaccount.created) are in this run's schema too, and a bill run billed them all (its wait could run
// out under load). So this run bills its own account's periods only (`closeBillingPeriod`, as the
// bill-cycle workflow does), and its account and charge ids are its own.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORK_SUBJECTS, dec, type ChargeResult } from '@ledgerline/contracts';
import { account, charges, invoicesOf, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
const RUN = randomBytes(4).toString('hex');
const ACC = `acc_rr_${RUN}`;
const SUB = `sub_rr_${RUN}`;
const id = (name: string) => `${name}_${RUN}`;
// Europe/Berlin, bill-cycle day 1.
const SEP = { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' };
const OCT = { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' };
const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }';
const close = async (p: { periodStart: string; periodEnd: string }): Promise<string> => (await h.gql<any>(CLOSE, { i: { billingAccountId: ACC, ...p } })).closeBillingPeriod.billingPeriod.invoice.id;
const db = () => h.svc.runtime.orm.em.fork().getConnection();
beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z');
  await account(h, ACC);
  await subscribe(h, ACC, SUB, 'postpaid20', '2026-08-01T00:00:00Z');
});
afterAll(async () => h?.svc.close());

const usage = (chargeId: string, amount: string, occurredAt: string, extra: Record<string, unknown> = {}) => ({ chargeId, billingAccountId: ACC, lineId: `lin_${SUB}`, usageType: 'DATA', zone: 'ROAMING_WORLD', units: '10', unit: 'MB', amount, currency: 'EUR', occurredAt, ...extra });
const net = (l: any) => l.netAmount.amount as string;

describe('rerate corrections on invoices', () => {
  it('a credit in the same period lowers the usage it corrects; one of an invoiced period is a credit line on the next invoice', async () => {
    await charges(h, [usage(id('chg_rr1'), '4.90', '2026-09-10T12:00:00Z'), { ...usage(id('adj_rr1'), '-1.00', '2026-09-10T12:00:00Z'), units: '1', unit: 'ITEM' }]);
    const sepId = await close(SEP);
    const sep = (await invoicesOf(h, ACC)).find((i: any) => i.id === sepId);
    const roaming = sep.lines.filter((l: any) => l.zone === 'ROAMING_WORLD');
    // 4.90 − 1.00, exactly.
    expect(roaming.reduce((s: ReturnType<typeof dec>, l: any) => s.plus(net(l)), dec('0')).toFixed(2)).toBe('3.90');

    // A correction of September found in October: a credit on the next invoice, tax included.
    // As wallets publishes it (the ChargeResult of the ADJUSTMENT charge).
    const result: ChargeResult = {
      chargeId: id('adj_rr2'), outcome: 'APPLIED', billingAccountId: ACC, lineId: `lin_${SUB}`, paymentMode: 'POSTPAID', usageType: 'DATA', zone: 'ROAMING_WORLD',
      occurredAt: '2026-09-11T12:00:00Z', units: '1', unit: 'ITEM', unitsFromAllowances: '0', amountCharged: '-0.500000', currency: 'EUR', adjustsInvoiceId: sep.id,
    };
    await h.svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(result));
    await waitFor(async () => (await db().execute(`select 1 from unbilled_charge where charge_id = ?`, [result.chargeId])).length > 0);
    h.clock.set(new Date('2026-11-02T10:00:00Z'));
    const octId = await close(OCT);
    const oct = (await invoicesOf(h, ACC)).find((i: any) => i.id === octId);
    expect(octId).not.toBe(sep.id);
    const credit = oct.lines.filter((l: any) => dec(net(l)).isNegative());
    // Tax included: −0.50 × 19 % = −0.095 → −0.10 (HALF_EVEN).
    expect(credit.map((l: any) => [net(l), l.taxAmount.amount])).toEqual([['-0.5', '-0.1']]);
    // This run billed its own account only (other runs' accounts are in its schema too).
    expect(await db().execute(`select distinct billing_account_id from invoice where billing_account_id <> ?`, [ACC])).toEqual([]);
  });
});
