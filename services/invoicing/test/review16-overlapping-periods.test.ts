// Review 16: "exactly one invoice per account and period" is backed by a unique index on
// (billing_account_id, period_start) only. The bill-cycle workflow's first period starts at the
// account's start (billingPeriodFrom(startFrom)), a bill run's at the cycle boundary: the same
// days are billed on two invoices, the recurring fee twice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { closeBillingPeriod, processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-10-01T10:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_ov');
  await subscribe(h, 'acc_ov', 'sub_ov', 'postpaid20', '2026-09-15T08:00:00Z');
});
afterAll(async () => h?.svc.close());

const deps = { catalog: null };

describe('review 16: overlapping periods of one account', () => {
  it('bill the same days once', async () => {
    const orm = h.svc.runtime.orm;
    const now = h.clock.now();
    // The bill-cycle workflow closes the account's first (stub) period: from its start to the boundary.
    await orm.em.fork().transactional((em) =>
      closeBillingPeriod(em as Em, { billingAccountId: 'acc_ov', periodStart: new Date('2026-09-15T08:00:00Z'), periodEnd: new Date('2026-09-30T22:00:00Z'), now }, deps),
    );
    // The cycle's bill run (the CLI's `billrun start 2026-10-01`).
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-10-01', batchSize: 10, driver: 'WORKFLOW', now }));
    while (await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, null, deps, now)));
    const recurring = await orm.em.fork().getConnection().execute(
      `select i.period_start, l.net_amount from invoice i join invoice_line l on l.invoice_id = i.id where i.billing_account_id = 'acc_ov' and i.voided_at is null and l.kind = 'RECURRING' order by 1`,
    );
    // Sep 15..30 of the 20 GB plan is billed on one invoice only.
    expect(recurring.map((r: any) => `${new Date(r.period_start).toISOString()} ${r.net_amount}`)).toHaveLength(1);
  });

  it('bill run first, then the workflow: its stub period is already billed, its next period starts where the bill run ended', async () => {
    const orm = h.svc.runtime.orm;
    const now = h.clock.now();
    await account(h, 'acc_ov2');
    await subscribe(h, 'acc_ov2', 'sub_ov2', 'postpaid20', '2026-09-15T08:00:00Z');
    // Starting the cycle date again bills the account the run had not planned (review 16, late accounts).
    const { run } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate: '2026-10-01', batchSize: 10, driver: 'WORKFLOW', now }));
    while (await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, run.id, null, deps, now)));
    const close = (periodStart: string, periodEnd: string, at: Date) =>
      orm.em.fork().transactional((em) => closeBillingPeriod(em as Em, { billingAccountId: 'acc_ov2', periodStart: new Date(periodStart), periodEnd: new Date(periodEnd), now: at }, deps));
    const stub = await close('2026-09-15T08:00:00Z', '2026-09-30T22:00:00Z', now);
    const invoices = async () =>
      (await orm.em.fork().getConnection().execute(`select id, period_start, period_end from invoice where billing_account_id = 'acc_ov2' and voided_at is null order by period_start`)).map(
        (r: any) => ({ id: r.id, from: new Date(r.period_start).toISOString(), to: new Date(r.period_end).toISOString() }),
      );
    const [runs] = await invoices();
    expect(await invoices()).toEqual([{ id: runs!.id, from: '2026-08-31T22:00:00.000Z', to: '2026-09-30T22:00:00.000Z' }]);
    expect(stub.invoiceId).toBe(runs!.id);
    // A period that overlaps the billed one (as closed by a workflow whose boundaries are off): only the unbilled days.
    const next = await close('2026-09-15T08:00:00Z', '2026-10-31T23:00:00Z', new Date('2026-11-01T10:00:00Z'));
    expect((await invoices()).map((i) => [i.from, i.to])).toEqual([
      ['2026-08-31T22:00:00.000Z', '2026-09-30T22:00:00.000Z'],
      ['2026-09-30T22:00:00.000Z', '2026-10-31T23:00:00.000Z'],
    ]);
    expect(next.invoiceId).toBe((await invoices())[1]!.id);
  });
});
