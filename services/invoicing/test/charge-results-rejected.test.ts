// Wallets answers a chargeId reused for another charge with a REJECTED ChargeResult (reason
// CHARGE_ID_CONFLICT: …): nothing was written to its ledger, and the result carries the refused
// request's facts, not the chargeId's own charge. Invoicing keeps unbilled charges by chargeId, so
// taking such a result as a charge would bill money never taken, or (arriving before the real
// result) shut the real charge out. Real PostgreSQL and NATS, through the charges consumer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORK_SUBJECTS, dec, type ChargeResult } from '@ledgerline/contracts';
import { account, charges, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-05T10:00:00Z');
  await account(h, 'acc_rej');
  await subscribe(h, 'acc_rej', 'sub_rej', 'postpaid20', '2026-08-01T00:00:00Z');
  await account(h, 'acc_rej_other');
});
afterAll(async () => h?.svc.close());

const result = (chargeId: string, outcome: string, amountCharged: string, over: Partial<ChargeResult> = {}) => ({
  chargeId, outcome, billingAccountId: 'acc_rej', lineId: 'lin_sub_rej', paymentMode: 'POSTPAID', usageType: 'DATA', zone: 'NATIONAL',
  occurredAt: '2026-10-02T12:00:00Z', units: '100', unit: 'MB', unitsFromAllowances: '0', amountCharged, currency: 'EUR', ...over,
});

async function unbilled(prefix: string): Promise<{ charge_id: string; billing_account_id: string; amount: string }[]> {
  const rows = await h.svc.runtime.orm.em.fork().getConnection().execute(`select charge_id, billing_account_id, amount from unbilled_charge where charge_id like ? order by charge_id`, [`${prefix}%`]);
  return rows.map((r: any) => ({ charge_id: r.charge_id, billing_account_id: r.billing_account_id, amount: dec(String(r.amount)).toFixed() }));
}

describe('REJECTED charge results from wallets', () => {
  it('record nothing, for a new chargeId or one already recorded, while the APPLIED and PARTIAL results of the same batch are recorded', async () => {
    const run = `chg_rej_${Date.now().toString(36)}_`;
    // The chargeId's own charge, already recorded.
    await charges(h, [{ chargeId: `${run}taken`, billingAccountId: 'acc_rej', lineId: 'lin_sub_rej', usageType: 'DATA', zone: 'NATIONAL', units: '100', unit: 'MB', amount: '2.00', currency: 'EUR', occurredAt: '2026-10-02T12:00:00Z' }]);
    const conflict = 'CHARGE_ID_CONFLICT: chargeId was used for another charge';
    const batch = [
      // Another charge under an id with no unbilled charge here yet (its own result still on the way).
      result(`${run}fresh`, 'REJECTED', '0.00', { reason: conflict }),
      result(`${run}taken`, 'REJECTED', '9.99', { reason: conflict, billingAccountId: 'acc_rej_other', lineId: 'lin_other' }),
      result(`${run}unknown`, 'SOMETHING_NEW', '1.00'),
      result(`${run}applied`, 'APPLIED', '1.50'),
      result(`${run}partial`, 'PARTIAL', '0.75', { reason: 'WALLET_INSUFFICIENT_BALANCE' }),
      result(`${run}denied`, 'DENIED', '0', { reason: 'WALLET_INSUFFICIENT_BALANCE' }),
    ];
    // One message, so one transaction: once the APPLIED one is there, the whole batch was applied.
    await h.svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(batch));
    await waitFor(async () => (await unbilled(`${run}applied`)).length > 0);
    expect(await unbilled(run)).toEqual([
      { charge_id: `${run}applied`, billing_account_id: 'acc_rej', amount: '1.5' },
      { charge_id: `${run}partial`, billing_account_id: 'acc_rej', amount: '0.75' },
      { charge_id: `${run}taken`, billing_account_id: 'acc_rej', amount: '2' },
    ]);

    // The fresh id's own charge arrives after the refusal: it is recorded with its own facts.
    await h.svc.runtime.messaging.js.publish(WORK_SUBJECTS.chargeApplied, JSON.stringify(result(`${run}fresh`, 'APPLIED', '3.25')));
    await waitFor(async () => (await unbilled(`${run}fresh`)).length > 0);
    expect(await unbilled(`${run}fresh`)).toEqual([{ charge_id: `${run}fresh`, billing_account_id: 'acc_rej', amount: '3.25' }]);
  });
});
