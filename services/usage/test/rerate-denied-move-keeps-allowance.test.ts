/**
 * A re-rate adjustment wallets denied moved no allowance units: the record keeps drawing on the allowance the ledger
 * drew it from (review, 2026-11-30).
 *
 * A correction that moves a record's usage to another allowance (or out of every allowance) rewrites the record's
 * allowance_id and sends an adjustment that gives the old allowance's units back and draws the new one (ADR 0019).
 * Wallets decides it all or nothing: DENIED (a prepaid wallet that cannot pay the units the new allowance does not
 * hold) moves nothing. The record then kept the new allowance_id with the old draw as its units_from_allowances:
 * live usage showed the 100 MB the ledger still holds in `data` as used of `data-b`, and the next re-rate with the
 * same correction found the record already drawing 100 MB of `data-b` and asked nothing - the 100 MB stayed used in
 * the customer's `data` bucket for good (lost units), never given back. Now the settlement of a denied adjustment
 * puts the record back on the allowance its give-back named (where the ledger's units are), and the next re-rate
 * asks for the same moves again, as it asks again for a denied money delta.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { AllowanceMove, ChargeRequest } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, settleCharges, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);

type Plan = { allowances: Record<string, unknown>[]; rules: { name: string; event: { params: Record<string, unknown> } }[] };
// The correction: home data draws on another allowance, `data-b` (the same 10 GB), instead of `data`.
const moved = planDocument('prepaid-bundle-30d.json') as Plan;
moved.allowances.push({ ...moved.allowances.find((a) => a.id === 'data')!, id: 'data-b', name: '10 GB data (b)' });
moved.rules.find((r) => r.name === 'data-bundle')!.event.params.allowanceId = 'data-b';

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId chargeId previousPrice newPrice } } }`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_moved_b: moved }), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const allowancesUsed = async (lineId: string) => {
  const res = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage { allowances { allowanceId used } } } } }`);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return Object.fromEntries((res.data._entities[0].usage.allowances as { allowanceId: string; used: string }[]).filter((a) => a.allowanceId.startsWith('data')).map((a) => [a.allowanceId, a.used]));
};

const movesOf = (c: ChargeRequest) => (c.allowanceMoves ?? []).map((m: AllowanceMove) => `${m.allowanceId} ${m.units}`);

describe('a re-rate adjustment moving units to another allowance, denied by wallets', () => {
  it('leaves the record on the allowance the ledger drew, and the next re-rate asks for the moves again', async () => {
    const lineId = `lin_dm${run}`;
    const account = `acc_dm${run}`;
    await setLine(svc, { lineId, msisdn: '+4915100008911', account, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
    const res = await svc.request(RECORD_USAGE, { input: { source: `dm-${run}`, records: [{ eventId: 'home', lineId, usageType: 'DATA', quantity: '100', occurredAt: '2026-03-10T10:00:00Z' }] } });
    expect(res.data?.recordUsage.rated, JSON.stringify(res)).toBe(1);
    await settleCharges(db, [lineId]);
    expect(await allowancesUsed(lineId)).toEqual({ data: '100' });

    const first = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_moved_b' } });
    expect(first.errors, JSON.stringify(first.errors)).toBeUndefined();
    expect(first.data.rerate.adjustments).toHaveLength(1);
    const [adjustment] = (await db.query<{ charge: string }>('select charge from rerate_adjustment where usage_record_id = $1', [first.data.rerate.adjustments[0].usageRecordId])).rows.map((r) => JSON.parse(r.charge) as ChargeRequest);
    expect(movesOf(adjustment!)).toEqual(['data -100', 'data-b 100']);

    // Wallets has no `data-b` bucket: the 100 MB would cost 2.00, the prepaid wallet is empty: DENIED, nothing moved.
    await applyChargeResults(usageRuntimeOf(svc.runtime).sql, [{
      chargeId: adjustment!.chargeId, outcome: 'DENIED', billingAccountId: account, lineId, paymentMode: 'PREPAID', usageType: 'DATA', occurredAt: adjustment!.occurredAt,
      units: '1', unit: 'ITEM', unitsFromAllowances: '0', amountCharged: '0', currency: 'EUR', reason: 'WALLET_INSUFFICIENT_BALANCE',
    }]);
    // The ledger still holds the 100 MB in `data`.
    expect(await allowancesUsed(lineId)).toEqual({ data: '100' });

    // The same correction again: the same moves are asked for (not nothing, which left the 100 MB used in `data` for good).
    const second = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-03', planVersionId: 'plv_moved_b' } });
    expect(second.errors, JSON.stringify(second.errors)).toBeUndefined();
    expect(second.data.rerate.adjustments).toHaveLength(1);
    const again = (await db.query<{ charge: string }>('select charge from rerate_adjustment where usage_record_id = $1 and status = $2', [second.data.rerate.adjustments[0].usageRecordId, 'PENDING'])).rows.map((r) => JSON.parse(r.charge) as ChargeRequest);
    expect(again.map(movesOf)).toEqual([['data -100', 'data-b 100']]);
  });
});
