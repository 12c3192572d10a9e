/**
 * A ChargeResult settles its record's charge without writing the record (issue 6, usage hot path):
 * it inserts one narrow charge_outcome row and takes the record off the sweeper's work list
 * (pending_charge); usage_record keeps the row version it was inserted with. Before this change
 * every ChargeResult was an `update usage_record` (a new ~1.3 KB version of the wide row and an
 * entry in each index, ~87 ms per 2,000 results against ~11 ms for a narrow insert).
 *
 * What readers see must not change: GraphQL chargeStatus / amountCharged / chargeReason, live
 * usage (a DENIED charge costs nothing), the sweeper (a settled charge is never re-sent), and a
 * redelivered result settles nothing again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { dec, type ChargeRequest, type ChargeResult } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { sweepCharges } from '../src/application/sweep-charges';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, storedChargeRequests } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_co${run}`;
const account = `acc_co${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId, msisdn: '+4915100007831', account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

const resultOf = (c: ChargeRequest, outcome: ChargeResult['outcome'], amountCharged: string, reason?: string): ChargeResult => ({
  chargeId: c.chargeId, outcome, billingAccountId: c.billingAccountId, lineId: c.lineId, paymentMode: c.paymentMode, usageType: c.usageType, occurredAt: c.occurredAt,
  units: outcome === 'DENIED' ? '0' : c.units, unit: c.unit, unitsFromAllowances: '0', amountCharged, currency: c.currency, ...(reason ? { reason } : {}),
});

/** The physical row version of each record (ctid and xmin move with every update of the row). */
const versions = async (ids: string[]) => (await db.query<{ id: string; v: string }>(`select id, ctid::text || '/' || xmin::text as v from usage_record where id = any($1::text[]) order by id`, [ids])).rows;

const RECORDS = `query($line: ID!) { usageRecords(filter: { lineId: $line }, first: 10) { edges { node { id chargeStatus chargeReason amountCharged { amount } } } } }`;
const CHARGE_STATUS = `query($line: ID!, $s: ChargeStatus) { usageRecords(filter: { lineId: $line, chargeStatus: $s }, first: 10) { totalCount } }`;

describe('a ChargeResult writes charge_outcome, not usage_record', () => {
  it('settles once, leaves the record row as inserted, and readers see the outcome', async () => {
    const records = [0, 1, 2].map((i) => ({ eventId: `e${i}`, lineId, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: `2026-03-10T10:0${i}:00Z` }));
    const res = await svc.request(RECORD_USAGE, { input: { source: `co-${run}`, records } });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const ids: string[] = res.data.recordUsage.results.map((r: { id: string }) => r.id);
    const [a, d, p] = await Promise.all(ids.map(async (id) => (await storedChargeRequests(db, 'id = $1', [id]))[0]!));
    const before = await versions(ids);
    const sql = usageRuntimeOf(svc.runtime).sql;

    const first = await applyChargeResults(sql, [resultOf(a, 'APPLIED', '0.05'), resultOf(d, 'DENIED', '0', 'WALLET_INSUFFICIENT_BALANCE')]);
    expect(Object.fromEntries(first.settled)).toEqual({ APPLIED: 1, DENIED: 1 });
    // The ledger took other figures than the estimate: the line's counters are reloaded.
    expect(first.moved).toEqual([{ lineId, billingAccountId: account }]);
    // A redelivery settles nothing and moves no counter.
    const again = await applyChargeResults(sql, [resultOf(a, 'APPLIED', '0.05'), resultOf(d, 'DENIED', '0', 'WALLET_INSUFFICIENT_BALANCE')]);
    expect({ moved: again.moved, settled: again.settled.size }).toEqual({ moved: [], settled: 0 });

    expect(await versions(ids)).toEqual(before);
    const outcomes = (await db.query(`select usage_record_id as id, outcome, amount_charged::text as amount, reason from charge_outcome where usage_record_id = any($1::text[]) order by outcome`, [ids])).rows;
    expect(outcomes.map((o) => ({ ...o, amount: dec(o.amount).toString() }))).toEqual([
      { id: a.chargeId, outcome: 'APPLIED', amount: '0.05', reason: null },
      { id: d.chargeId, outcome: 'DENIED', amount: '0', reason: 'WALLET_INSUFFICIENT_BALANCE' },
    ]);
    expect((await db.query(`select usage_record_id from pending_charge where usage_record_id = any($1::text[])`, [ids])).rows).toEqual([{ usage_record_id: p.chargeId }]);

    // GraphQL: the outcome, the amount the ledger took, the reason; filtering by charge status.
    const list = await svc.request(RECORDS, { line: lineId });
    expect(list.errors, JSON.stringify(list.errors)).toBeUndefined();
    const byId = new Map(list.data.usageRecords.edges.map((e: { node: { id: string } }) => [e.node.id, e.node]));
    expect(byId.get(a.chargeId)).toMatchObject({ chargeStatus: 'APPLIED', chargeReason: null, amountCharged: { amount: expect.stringMatching(/^0\.05/) } });
    expect(byId.get(d.chargeId)).toMatchObject({ chargeStatus: 'DENIED', chargeReason: 'WALLET_INSUFFICIENT_BALANCE' });
    expect(byId.get(p.chargeId)).toMatchObject({ chargeStatus: 'PENDING', amountCharged: null });
    for (const [s, n] of [['APPLIED', 1], ['DENIED', 1], ['PENDING', 1]] as const) {
      const counted = await svc.request(CHARGE_STATUS, { line: lineId, s });
      expect(counted.errors, JSON.stringify(counted.errors)).toBeUndefined();
      expect([s, counted.data.usageRecords.totalCount]).toEqual([s, n]);
    }

    // Live usage: the applied charge at the ledger's amount, the denied one costs nothing, the pending one its estimate.
    const usage = await svc.request(`{ _entities(representations: [{ __typename: "Line", id: "${lineId}" }]) { ... on Line { usage { spend events } } } }`);
    expect(usage.errors, JSON.stringify(usage.errors)).toBeUndefined();
    expect(dec(usage.data._entities[0].usage.spend).toString()).toBe(dec('0.05').plus(JSON.parse((await db.query('select spend::text from usage_record where id = $1', [p.chargeId])).rows[0].spend)).toString());

    // The sweeper re-sends only the charge still waiting.
    const resent: string[] = [];
    await sweepCharges(sql, async (charges) => void resent.push(...charges.map((c) => c.id)), new Date('2026-03-20T13:00:00Z'), { graceMs: 60_000 });
    expect(resent).toEqual([p.chargeId]);
  });
});
