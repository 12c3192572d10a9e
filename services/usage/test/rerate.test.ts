import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, type ChargeRequest } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, settleCharges, sqlOf, storedChargeRequests } from './support';

let svc: TestService;
let db: pg.Client;

// A catalog correction: world roaming data at 0.39 instead of 0.49 per MB.
const corrected = planDocument('postpaid-20gb.json') as { rules: { name: string; event: { params: Record<string, unknown> } }[] };
corrected.rules.find((r) => r.name === 'roaming-world-data')!.event.params.pricePerUnit = '0.3900';

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId chargeId previousPrice newPrice } } }`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_fixed: corrected }), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: 'lin_rr', msisdn: '+4915100000088', account: 'acc_rr', planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('rerate', () => {
  it('re-rates a period after a catalog correction with delta charges, never a second charge', async () => {
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: 'rr',
        records: [
          { eventId: 'a', lineId: 'lin_rr', usageType: 'DATA', quantity: '10', occurredAt: '2026-03-02T10:00:00Z', roamingCountry: 'US' },
          { eventId: 'b', lineId: 'lin_rr', usageType: 'DATA', quantity: '10', occurredAt: '2026-03-03T10:00:00Z', roamingCountry: 'US' },
          { eventId: 'c', lineId: 'lin_rr', usageType: 'DATA', quantity: '10', occurredAt: '2026-03-03T11:00:00Z' },
        ],
      },
    });
    expect(res.data.recordUsage.rated).toBe(3);
    // Wallets has not answered yet: no adjustment can be made against a charge not settled.
    const early = await svc.request(RERATE, { i: { billingAccountId: 'acc_rr', period: '2026-03', planVersionId: 'plv_fixed' } });
    expect(early.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'RERATE_CHARGES_PENDING', field: 'input.period' });
    expect(await storedChargeRequests(db)).toHaveLength(3);
    expect(await settleCharges(db, ['lin_rr'])).toBe(3);
    const unchanged = await svc.request(RERATE, { i: { billingAccountId: 'acc_rr', period: '2026-03' } });
    expect(unchanged.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });

    // March was already invoiced: the deltas adjust that invoice (next invoice, adjustment lines).
    await db.query(`insert into billed_period (billing_account_id, invoice_id, period_start, period_end, billed_at) values ('acc_rr', 'inv_rr_march', '2026-03-01', '2026-04-01', '2026-04-01T06:00:00Z')`);
    const fixed = await svc.request(RERATE, { i: { billingAccountId: 'acc_rr', period: '2026-03', planVersionId: 'plv_fixed' } });
    expect(fixed.errors, JSON.stringify(fixed.errors)).toBeUndefined();
    const adj = fixed.data.rerate.adjustments;
    expect(fixed.data.rerate.recordsRerated).toBe(2);
    expect(adj.map((a: { previousPrice: string; newPrice: string }) => [a.previousPrice, a.newPrice])).toEqual([['4.9', '3.9'], ['4.9', '3.9']]);

    const charges: ChargeRequest[] = await storedChargeRequests(db);
    const deltas = charges.filter((c) => adj.some((a: { chargeId: string }) => a.chargeId === c.chargeId));
    expect(deltas).toHaveLength(2);
    expect(deltas.every((d) => d.units === '1' && dec(d.pricePerUnit).eq('-1') && d.unit === 'ITEM')).toBe(true);
    expect(deltas.map((d) => [d.adjustsInvoiceId, d.zone])).toEqual([['inv_rr_march', 'ROAMING_WORLD1'], ['inv_rr_march', 'ROAMING_WORLD1']]);
    // Each names the record it corrects (echoed by wallets; invoicing weighs it against the record's disputes, review 19).
    expect(deltas.map((d) => d.usageRecordId).sort()).toEqual(adj.map((a: { usageRecordId: string }) => a.usageRecordId).sort());
    // The original charges keep their ids; the adjustments have new ones.
    expect(new Set(charges.map((c) => c.chargeId)).size).toBe(charges.length);

    // A re-rate waits for wallets to settle the adjustments, as it waits for the charges.
    const waiting = await svc.request(RERATE, { i: { billingAccountId: 'acc_rr', period: '2026-03', planVersionId: 'plv_fixed' } });
    expect(waiting.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'RERATE_ADJUSTMENTS_PENDING', field: 'input.period' });
    await applyChargeResults(usageRuntimeOf(svc.runtime).sql, deltas.map((d) => ({
      chargeId: d.chargeId, outcome: 'APPLIED' as const, billingAccountId: d.billingAccountId, lineId: d.lineId, paymentMode: d.paymentMode, usageType: d.usageType, occurredAt: d.occurredAt,
      units: d.units, unit: d.unit, unitsFromAllowances: '0', amountCharged: d.pricePerUnit, currency: d.currency,
    })));
    // Again with the same catalog: nothing left to adjust.
    const again = await svc.request(RERATE, { i: { billingAccountId: 'acc_rr', period: '2026-03', planVersionId: 'plv_fixed' } });
    expect(again.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
    const records = await svc.request(`{ usageRecords(filter: { lineId: "lin_rr", status: RERATED }) { totalCount edges { node { ratingVersion price { amount } ratingTrace } } } }`);
    expect(records.data.usageRecords.totalCount).toBe(2);
    expect(records.data.usageRecords.edges[0].node.ratingTrace.previous).toMatchObject({ chargedTotal: '4.9' });
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "BillingAccount", id: "acc_rr" }]) { ... on BillingAccount { usage(period: "2026-03-01") { spend events } } } }`);
    expect(dec(usage.data._entities[0].usage.spend).eq('7.8')).toBe(true);
  });

  it("replays the allowance period from its start when it began before the month", async () => {
    // Allowance periods from 15 February 10:00: February's 20 GB is nearly gone when March begins.
    await setLine(svc, { lineId: 'lin_rs', msisdn: '+4915100000089', account: 'acc_rs', planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-02-15T10:00:00Z', at: '2026-02-15T10:00:00Z' });
    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: 'rs',
        records: [
          { eventId: 'feb', lineId: 'lin_rs', usageType: 'DATA', quantity: '20000', occurredAt: '2026-02-20T10:00:00Z' },
          { eventId: 'mar', lineId: 'lin_rs', usageType: 'DATA', quantity: '1000', occurredAt: '2026-03-02T10:00:00Z' },
        ],
      },
    });
    expect(res.data.recordUsage.rated).toBe(2);
    const { rows } = await db.query(`select event_id, spend from usage_record where line_id = 'lin_rs' order by occurred_at`);
    expect(rows.map((r) => [r.event_id, dec(r.spend).toString()])).toEqual([['feb', '0'], ['mar', '5.2']]); // 520 MB over
    await settleCharges(db, ['lin_rs']);
    // Re-rating March with the same catalog: March's record still comes after February's 20000 MB
    // of the same allowance period, so nothing changed (counting from 1 March would credit 5.2).
    const same = await svc.request(RERATE, { i: { billingAccountId: 'acc_rs', period: '2026-03' } });
    expect(same.errors, JSON.stringify(same.errors)).toBeUndefined();
    expect(same.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });
  it('re-rating a line suspended since then changes nothing: its usage is judged by its status at the time', async () => {
    const line = { lineId: 'lin_rsus', msisdn: '+4915100000087', account: 'acc_rsus', planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' as const };
    await setLine(svc, line);
    const res = await svc.request(RECORD_USAGE, { input: { source: 'rsus', records: [{ eventId: 'x', lineId: 'lin_rsus', usageType: 'DATA', quantity: '10', occurredAt: '2026-03-02T10:00:00Z', roamingCountry: 'US' }] } });
    expect(res.data.recordUsage.rated).toBe(1);
    await settleCharges(db, ['lin_rsus']);
    // Suspended on 10 March (unpaid bill): a re-rate of March must not credit the usage before it.
    await setLine(svc, { ...line, status: 'SUSPENDED', at: '2026-03-10T00:00:00Z' });
    const again = await svc.request(RERATE, { i: { billingAccountId: 'acc_rsus', period: '2026-03' } });
    expect(again.errors, JSON.stringify(again.errors)).toBeUndefined();
    expect(again.data.rerate).toEqual({ recordsRerated: 0, adjustments: [] });
  });
});
