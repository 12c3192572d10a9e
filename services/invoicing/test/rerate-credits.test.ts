// A rerate's correction reaches invoicing as a charge of its own (kind ADJUSTMENT in wallets): a
// cheaper correction is a negative charge. It lowers the usage it corrects on the invoice of its
// period, and a correction of an invoiced period (adjustsInvoiceId) is a credit on the next one.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORK_SUBJECTS, type ChargeResult } from '@ledgerline/contracts';
import { account, charges, invoicesOf, runBillRun, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
// Ids of this run's own: the consumer reads every run's charge results on the shared NATS, and another run's
// charges for a same-named account (a copy of this file's adj_rr2, naming its own invoice) were billed here.
const RUN = randomBytes(4).toString('hex');
const ACC = `acc_rr_${RUN}`;
const SUB = `sub_rr_${RUN}`;
const id = (name: string) => `${name}_${RUN}`;
beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z');
  await account(h, ACC);
  await subscribe(h, ACC, SUB, 'postpaid20', '2026-08-01T00:00:00Z');
});
afterAll(async () => h?.svc.close());

const usage = (chargeId: string, amount: string, occurredAt: string, extra: Record<string, unknown> = {}) => ({ chargeId, billingAccountId: ACC, lineId: `lin_${SUB}`, usageType: 'DATA', zone: 'ROAMING_WORLD', units: '10', unit: 'MB', amount, currency: 'EUR', occurredAt, ...extra });

describe('rerate corrections on invoices', () => {
  it('a credit in the same period lowers the usage it corrects; one of an invoiced period is a credit line on the next invoice', async () => {
    await charges(h, [usage(id('chg_rr1'), '4.90', '2026-09-10T12:00:00Z'), { ...usage(id('adj_rr1'), '-1.00', '2026-09-10T12:00:00Z'), units: '1', unit: 'ITEM' }]);
    await runBillRun(h, '2026-10-01');
    const [sep] = await invoicesOf(h, ACC);
    const roaming = sep.lines.filter((l: any) => l.zone === 'ROAMING_WORLD');
    expect(roaming.reduce((s: number, l: any) => s + Number(l.netAmount.amount), 0)).toBeCloseTo(3.9, 6);

    // A correction of September found in October: a credit on the next invoice, tax included.
    // As wallets publishes it (the ChargeResult of the ADJUSTMENT charge).
    const result: ChargeResult = {
      chargeId: id('adj_rr2'), outcome: 'APPLIED', billingAccountId: ACC, lineId: `lin_${SUB}`, paymentMode: 'POSTPAID', usageType: 'DATA', zone: 'ROAMING_WORLD',
      occurredAt: '2026-09-11T12:00:00Z', units: '1', unit: 'ITEM', unitsFromAllowances: '0', amountCharged: '-0.500000', currency: 'EUR', adjustsInvoiceId: sep.id,
    };
    await h.svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(result));
    const em = h.svc.runtime.orm.em.fork();
    await waitFor(async () => (await em.getConnection().execute(`select 1 from unbilled_charge where charge_id = ?`, [result.chargeId])).length > 0);
    h.clock.set(new Date('2026-11-02T10:00:00Z'));
    await runBillRun(h, '2026-11-01');
    const oct = (await invoicesOf(h, ACC)).find((i: any) => i.id !== sep.id);
    const credit = oct.lines.filter((l: any) => Number(l.netAmount.amount) < 0);
    expect(credit.map((l: any) => Number(l.netAmount.amount))).toEqual([-0.5]);
    expect(Number(credit[0].taxAmount.amount)).toBeLessThan(0);
  });
});
