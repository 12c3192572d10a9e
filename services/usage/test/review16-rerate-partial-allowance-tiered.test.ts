/**
 * Review 16: an event partly covered by its allowance, priced by a graduated (per-event) tariff.
 *
 * Usage estimates the money part as the tariff applied to the uncovered units (priceOf), while the
 * ledger takes the rated `amount` pro rata of the uncovered units (wallets' moneyFor: "the ledger
 * takes exactly what usage rated ... pro rata when allowances cover part"). For a graduated tariff
 * these differ. A re-rate with the SAME catalog then compares its priceOf figure with what the
 * ledger charged and sends an adjustment: "Running it again with the same catalog changes nothing"
 * does not hold, and the customer is charged again for usage that did not change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { RECORD_USAGE, RERATE, filePlanSource, setLine, sqlOf, storedChargeRequests } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r16t${run}`;
const account = `acc_r16t${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: `+4915178${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('review16: re-rate of an event partly covered by its allowance, graduated tariff', () => {
  it('a re-rate with the same catalog sends no adjustment for what the ledger charged as asked', async () => {
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: `r16t-${run}`,
        records: [
          { eventId: 'big', lineId, usageType: 'DATA', quantity: '20000', occurredAt: '2026-03-02T10:00:00Z' },
          // 480 MB left of the 20480 MB bundle: 1520 MB over, tiers per event (1024 @ 0.01, then 0.005).
          { eventId: 'over', lineId, usageType: 'DATA', quantity: '2000', occurredAt: '2026-03-03T10:00:00Z' },
        ],
      },
    });
    expect(res.data.recordUsage.rated).toBe(2);
    const charges = (await storedChargeRequests(db)).filter((c) => c.lineId === lineId);
    expect(charges).toHaveLength(2);
    // Wallets' answers, as its charging applies them: all of `big` from the bundle; for `over` 480 MB
    // from the bundle and the rest at the rated amount pro rata (15.12 x 1520 / 2000 = 11.4912).
    const over = charges.find((c) => c.units === '2000')!;
    expect(dec(over.amount!).toString()).toBe('15.12');
    const ledgerMoney = dec(over.amount!).times('1520').div('2000').toDecimalPlaces(6);
    await applyChargeResults(usageRuntimeOf(svc.runtime).sql, charges.map((c) => {
      const isOver = c.chargeId === over.chargeId;
      return {
        chargeId: c.chargeId, outcome: 'APPLIED' as const, billingAccountId: c.billingAccountId, lineId: c.lineId, paymentMode: c.paymentMode, usageType: c.usageType, occurredAt: c.occurredAt,
        units: c.units, unit: c.unit, unitsFromAllowances: isOver ? '480' : c.units, amountCharged: isOver ? ledgerMoney.toString() : '0', currency: c.currency,
      };
    }));
    const estimate = (await db.query(`select spend from usage_record where id = $1`, [over.chargeId])).rows[0].spend;

    const again = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
    // Nothing changed in the catalog or the usage: nothing to adjust (usage estimated `estimate`, the ledger took ledgerMoney).
    expect({ estimate: dec(estimate).toString(), ledger: ledgerMoney.toString(), rerate: again.data.rerate }).toEqual({ estimate: dec(estimate).toString(), ledger: ledgerMoney.toString(), rerate: { recordsRerated: 0, adjustments: [] } });
  });
});
