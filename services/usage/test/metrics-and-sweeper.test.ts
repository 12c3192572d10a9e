import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { ManualClock, scrapeMetrics, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { sweepCharges, sweepChargesCounted } from '../src/application/sweep-charges';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf } from './support';

let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-04-10T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }), { clock });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: `lin_m${run}`, msisdn: '+4915300000001', account: `acc_m${run}`, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

async function rejectedOnMetrics(): Promise<Record<string, number>> {
  const text = await (await fetch(svc.url.replace(/\/graphql$/, '/metrics'))).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^ledgerline_usage_rejected_total\{([^}]*)\} (\d+)/.exec(line);
    if (!m) continue;
    const reason = /reason="([^"]+)"/.exec(m[1])?.[1];
    expect(m[1]).toContain('service="usage"');
    if (reason) out[reason] = Number(m[2]);
  }
  return out;
}

describe('/metrics', () => {
  it('serves the rejection counter labelled by reason code, counted once per stored rejection', async () => {
    expect(await rejectedOnMetrics()).toEqual({});
    const records = [
      { eventId: 'm1', lineId: `lin_m${run}`, usageType: 'DATA', quantity: 'lots', occurredAt: '2026-04-10T10:00:00Z' },
      { eventId: 'm2', lineId: `lin_m${run}`, usageType: 'DATA', quantity: '-1', occurredAt: '2026-04-10T10:00:00Z' },
      { eventId: 'm3', lineId: 'lin_nobody', usageType: 'SMS', quantity: '1', occurredAt: '2026-04-10T10:00:00Z' },
      { eventId: 'm4', lineId: `lin_m${run}`, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-04-10T10:00:00Z' },
    ];
    const res = await svc.request(RECORD_USAGE, { input: { source: `m-${run}`, records } });
    expect(res.data.recordUsage).toMatchObject({ rated: 1, rejected: 3 });
    const codes = res.data.recordUsage.results.filter((r: { status: string }) => r.status === 'REJECTED').map((r: { rejectionCode: string }) => r.rejectionCode);
    const expected: Record<string, number> = {};
    for (const c of codes) expected[c] = (expected[c] ?? 0) + 1;
    expect(expected.LINE_UNKNOWN).toBe(1);
    expect(await rejectedOnMetrics()).toEqual(expected);
    // Sent again: duplicates are not counted again.
    await svc.request(RECORD_USAGE, { input: { source: `m-${run}`, records } });
    expect(await rejectedOnMetrics()).toEqual(expected);
  });
});

describe('charge sweeper', () => {
  it('re-publishes a ChargeRequest no ChargeResult answered, after the grace time, with back-off, and never an answered one', async () => {
    const usage = usageRuntimeOf(svc.runtime);
    const res = await svc.request(RECORD_USAGE, { input: { source: `s-${run}`, records: [1, 2, 3].map((i) => ({ eventId: `s${i}`, lineId: `lin_m${run}`, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: '2026-04-10T11:00:00Z' })) } });
    expect(res.data.recordUsage.rated).toBe(3);
    const ids: string[] = res.data.recordUsage.results.map((r: { id: string }) => r.id);
    const sent: string[] = [];
    const publish = async (charges: { id: string; payload: string }[]) => {
      for (const c of charges) if (ids.includes(c.id)) sent.push(JSON.parse(c.payload).chargeId);
    };
    const at = (seconds: number) => new Date(clock.now().getTime() + seconds * 1000);
    // Within the grace time nothing is re-sent (the publish right after commit normally did it).
    await sweepCharges(usage.sql, publish, at(30), { graceMs: 60_000 });
    expect(sent).toEqual([]);
    // wallets answered the first charge.
    await applyChargeResults(usage.sql, [{ chargeId: ids[0], outcome: 'APPLIED', billingAccountId: `acc_m${run}`, lineId: `lin_m${run}`, paymentMode: 'PREPAID', usageType: 'SMS', occurredAt: '2026-04-10T11:00:00Z', units: '1', unit: 'MESSAGE', unitsFromAllowances: '0', amountCharged: '0.09', currency: 'EUR' }]);
    await sweepCharges(usage.sql, publish, at(61), { graceMs: 60_000 });
    expect(sent.sort()).toEqual([ids[1], ids[2]].sort());
    // Back-off: not again 10 s later, again after 30 s more.
    await sweepCharges(usage.sql, publish, at(71), { graceMs: 60_000 });
    expect(sent).toHaveLength(2);
    // The service's pass (here with a publish that records) counts what it re-sent on /metrics.
    const resent = async () => (await scrapeMetrics(svc)).ledgerline_usage_charges_resent_total ?? 0;
    const before = await resent();
    // (The other test's unanswered SMS is due too: the pass re-sends it and counts it.)
    const n = await sweepChargesCounted({ ...usage, publishCharges: publish }, at(92), { graceMs: 60_000 });
    expect(sent).toHaveLength(4);
    expect(n).toBeGreaterThanOrEqual(2);
    expect((await resent()) - before).toBe(n);
    // The sweeper's work list (pending_charge) keeps the back-off; the answered charge is off it.
    const attempts = (await db.query('select usage_record_id as id, charge_attempts from pending_charge where usage_record_id = any($1::text[]) order by usage_record_id', [ids])).rows;
    expect(attempts).toEqual([ids[1], ids[2]].sort().map((id) => ({ id, charge_attempts: 2 })));
  });
});
