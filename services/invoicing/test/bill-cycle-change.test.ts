// A billing account registered again with another bill-cycle day (or time zone) used to have its
// cycle overwritten at once: the old day's bill runs no longer picked it up and the new day's first
// period either left days billed on no invoice (a gap: the recurring fee of those days never billed)
// or, trimmed to where the last invoice ended, billed a short period for a whole month's fee.
// Now a cycle change takes effect at the end of the account's current period (the old day still
// bills it), and the new day's first period bridges from there, its recurring fee prorated over the
// new cycle's days: every day billed exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { account, charges, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-08-01T10:00:00Z', { consume: false, runBillRuns: false });
  // A: day 1 → 15 before the 15th of its current period; B: day 1 → 15 after the 15th (the gap case).
  for (const id of ['acc_bcc_a', 'acc_bcc_b']) {
    await account(h, id);
    await subscribe(h, id, `sub_${id}`, 'postpaid20', '2026-07-31T22:00:00Z');
  }
});
afterAll(async () => h?.svc.close());

const deps = { catalog: null };

async function runCycle(cycleDate: string, at: string): Promise<void> {
  h.clock.set(at);
  const orm = h.svc.runtime.orm;
  const now = h.clock.now();
  const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate, batchSize: 10, driver: 'WORKFLOW', now }));
  while (await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, null, deps, now)));
}

async function billed(accountId: string): Promise<{ from: string; to: string; recurring: string; usage: string }[]> {
  const r = await h.svc.runtime.orm.em.fork().getConnection().execute(
    `select i.period_start, i.period_end,
            coalesce(sum(l.net_amount) filter (where l.kind = 'RECURRING'), 0) as recurring,
            coalesce(sum(l.net_amount) filter (where l.kind in ('USAGE', 'ADJUSTMENT')), 0) as usage
       from invoice i left join invoice_line l on l.invoice_id = i.id
      where i.billing_account_id = ? and i.voided_at is null group by i.id order by i.period_start`,
    [accountId],
  );
  return r.map((x: any) => ({ from: new Date(x.period_start).toISOString(), to: new Date(x.period_end).toISOString(), recurring: dec(String(x.recurring)).toFixed(2), usage: dec(String(x.usage)).toFixed(2) }));
}

describe('a bill-cycle day changed by registering the account again', () => {
  it('bills every day exactly once across the change, the bridging period prorated', async () => {
    await runCycle('2026-09-01', '2026-09-01T10:00:00Z');

    // A asks for the 15th on Sep 10, twice (the same registration again changes nothing more).
    h.clock.set('2026-09-10T09:00:00Z');
    await account(h, 'acc_bcc_a', { billCycleDay: 15 });
    await account(h, 'acc_bcc_a', { billCycleDay: 15 });
    await runCycle('2026-09-15', '2026-09-15T10:00:00Z');
    await runCycle('2026-10-01', '2026-10-01T10:00:00Z');

    // B asks for the 15th on Oct 20, after this month's 15th.
    h.clock.set('2026-10-20T09:00:00Z');
    await account(h, 'acc_bcc_b', { billCycleDay: 15 });
    // Usage of B on Oct 25 and of A on Oct 5 (its bridging days).
    await charges(h, [
      { chargeId: 'chg_bcc_a1', billingAccountId: 'acc_bcc_a', lineId: 'lin_sub_acc_bcc_a', usageType: 'DATA', zone: 'NATIONAL', units: '10', unit: 'MB', amount: '1.25', currency: 'EUR', occurredAt: '2026-10-05T12:00:00Z' },
      { chargeId: 'chg_bcc_b1', billingAccountId: 'acc_bcc_b', lineId: 'lin_sub_acc_bcc_b', usageType: 'DATA', zone: 'NATIONAL', units: '10', unit: 'MB', amount: '2.50', currency: 'EUR', occurredAt: '2026-10-25T12:00:00Z' },
    ]);
    await runCycle('2026-10-15', '2026-10-20T10:00:00Z');
    await runCycle('2026-11-01', '2026-11-01T10:00:00Z');
    await runCycle('2026-11-15', '2026-11-15T10:00:00Z');
    await runCycle('2026-12-01', '2026-12-01T10:00:00Z');
    await runCycle('2026-12-15', '2026-12-15T10:00:00Z');

    // Berlin: 2026-08-01 00:00 = 07-31T22:00Z; winter time from Oct 25.
    expect(await billed('acc_bcc_a')).toEqual([
      { from: '2026-07-31T22:00:00.000Z', to: '2026-08-31T22:00:00.000Z', recurring: '29.99', usage: '0.00' },
      { from: '2026-08-31T22:00:00.000Z', to: '2026-09-30T22:00:00.000Z', recurring: '29.99', usage: '0.00' },
      // Oct 1–14: 14 of the 30 days of the new cycle Sep 15 – Oct 15; 29.99 × 14 / 30 = 13.9953…
      { from: '2026-09-30T22:00:00.000Z', to: '2026-10-14T22:00:00.000Z', recurring: '14.00', usage: '1.25' },
      { from: '2026-10-14T22:00:00.000Z', to: '2026-11-14T23:00:00.000Z', recurring: '29.99', usage: '0.00' },
      { from: '2026-11-14T23:00:00.000Z', to: '2026-12-14T23:00:00.000Z', recurring: '29.99', usage: '0.00' },
    ]);
    expect(await billed('acc_bcc_b')).toEqual([
      { from: '2026-07-31T22:00:00.000Z', to: '2026-08-31T22:00:00.000Z', recurring: '29.99', usage: '0.00' },
      { from: '2026-08-31T22:00:00.000Z', to: '2026-09-30T22:00:00.000Z', recurring: '29.99', usage: '0.00' },
      // The current period goes on to its end on the old day …
      { from: '2026-09-30T22:00:00.000Z', to: '2026-10-31T23:00:00.000Z', recurring: '29.99', usage: '2.50' },
      // … then Nov 1–14: 14 of the 31 days of Oct 15 – Nov 15; 29.99 × 14 / 31 = 13.5438…
      { from: '2026-10-31T23:00:00.000Z', to: '2026-11-14T23:00:00.000Z', recurring: '13.54', usage: '0.00' },
      { from: '2026-11-14T23:00:00.000Z', to: '2026-12-14T23:00:00.000Z', recurring: '29.99', usage: '0.00' },
    ]);
  });

  it('a registration with the same cycle changes nothing; going back before the change takes effect cancels it', async () => {
    h.clock.set('2026-12-16T09:00:00Z');
    await account(h, 'acc_bcc_c');
    await account(h, 'acc_bcc_c', { billCycleDay: 20 });
    await account(h, 'acc_bcc_c', { billCycleDay: 1 });
    const [row] = await h.svc.runtime.orm.em.fork().getConnection().execute(`select bill_cycle_day, prev_bill_cycle_day, bill_cycle_changes_at from billing_account where id = 'acc_bcc_c'`);
    expect(row).toMatchObject({ bill_cycle_day: 1, prev_bill_cycle_day: null, bill_cycle_changes_at: null });
  });
});
