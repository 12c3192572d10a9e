/**
 * Review 16: an "unlimited" allowance with a fair-use cap (postpaid-20gb's voice: 180,000 s, then
 * 0.0015/s). Wallets grants its bucket with quantity = fairUseCap (grant-from-subscription.ts) and
 * charges money past it; usage sizes it as truly unlimited (allowanceSizeOf: `unlimited` → null):
 * every second is estimated free, no 50/80/100 % threshold of the cap ever fires, live usage shows
 * no size, and a re-rate with the SAME catalog credits back the fair-use overage the ledger charged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, EVENTS } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { lineUsage } from '../src/application/live-usage';
import { RECORD_USAGE, RERATE, filePlanSource, setLine, sqlOf, storedChargeRequests } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_r16f${run}`;
const account = `acc_r16f${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: `+4915179${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('review16: fair-use cap of an unlimited allowance', () => {
  it('past the cap: estimated as the ledger charges it, thresholds fire, and a same-catalog re-rate credits nothing', async () => {
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: `r16f-${run}`,
        records: [
          { eventId: 'cap', lineId, usageType: 'VOICE', quantity: '180000', calledNumber: '+4930123456', occurredAt: '2026-03-02T10:00:00Z' },
          { eventId: 'past', lineId, usageType: 'VOICE', quantity: '600', calledNumber: '+4930123456', occurredAt: '2026-03-03T10:00:00Z' },
        ],
      },
    });
    expect(res.data.recordUsage.rated).toBe(2);
    const charges = (await storedChargeRequests(db)).filter((c) => c.lineId === lineId);
    const past = charges.find((c) => c.units === '600')!;
    // Wallets' bucket of `voice` holds the fair-use cap (180000): the first call uses it up, the second is money.
    await applyChargeResults(usageRuntimeOf(svc.runtime).sql, charges.map((c) => ({
      chargeId: c.chargeId, outcome: 'APPLIED' as const, billingAccountId: c.billingAccountId, lineId: c.lineId, paymentMode: c.paymentMode, usageType: c.usageType, occurredAt: c.occurredAt,
      units: c.units, unit: c.unit, unitsFromAllowances: c.chargeId === past.chargeId ? '0' : c.units, amountCharged: c.chargeId === past.chargeId ? c.amount! : '0', currency: c.currency,
    })));
    const estimate = dec((await db.query('select spend from usage_record where id = $1', [past.chargeId])).rows[0].spend).toString();
    // The outbox row's subject names the event (its payload holds the CloudEvent type, not the name usageThresholdReached).
    const thresholds = (await db.query(`select count(*)::int as n from outbox where subject = $1 and payload like $2`, [EVENTS.usageThresholdReached.subject, `%${lineId}%`])).rows[0].n;

    // Live usage sizes the allowance as wallets' bucket: the cap, used up, nothing left.
    const live = (await lineUsage(usageRuntimeOf(svc.runtime), lineId, '2026-03-10T00:00:00Z', new Date('2026-03-20T12:00:00Z'))).allowances.find((a) => a.allowanceId === 'voice');
    expect(live).toMatchObject({ used: '180000', allowance: '180000', remaining: '0', usedRatio: '1' });

    const again = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03' } });
    expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
    expect({ estimateOfPast: estimate, thresholdEvents: thresholds, sameCatalogRerate: again.data.rerate }).toEqual({
      estimateOfPast: dec(past.amount!).toString(), // 0.9: what the ledger charges past the cap
      thresholdEvents: 3, // 50 %, 80 %, 100 % of the cap
      sameCatalogRerate: { recordsRerated: 0, adjustments: [] },
    });
  });
});
