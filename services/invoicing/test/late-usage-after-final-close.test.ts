// Usage that reaches invoicing after an account's final close (the bill-cycle workflow closed its
// last, short period on `accountClosed`: the final invoice is out). Before, invoicing did not know the
// account was closed: a bill run billed it on as an open account (its plan's fee for days after the
// closure, then an invoice every month), and without bill runs nothing billed the charge at all.
// Now the final close marks the account CLOSED: a later charge shows as unbilled late usage in
// `previewNextInvoice` and the `ledgerline_invoicing_unbilled_after_close` gauge, and the next bill
// run bills it on an adjustment invoice after the final one (late usage only); nothing else is
// billed after the closure, and a closed account with nothing left gets no invoice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORK_SUBJECTS, dec } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { closeBillingPeriod, previewNextInvoice, processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { applyMessages } from '../src/events/consumer';
import { account, startHarness, subscribe, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-09-01T10:00:00Z', { consume: false, runBillRuns: false });
  await account(h, 'acc_fin');
  await subscribe(h, 'acc_fin', 'sub_fin', 'postpaid20', '2026-08-31T22:00:00Z');
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

async function invoices(): Promise<{ from: string; to: string; lines: string[] }[]> {
  const r = await h.svc.runtime.orm.em.fork().getConnection().execute(
    `select i.id, i.period_start, i.period_end, coalesce(array_agg(l.kind || ' ' || l.net_amount order by l.position) filter (where l.id is not null), '{}') as lines
       from invoice i left join invoice_line l on l.invoice_id = i.id where i.billing_account_id = 'acc_fin' and i.voided_at is null group by i.id order by i.period_start`,
  );
  return r.map((x: any) => ({ from: new Date(x.period_start).toISOString(), to: new Date(x.period_end).toISOString(), lines: x.lines.map((l: string) => l.replace(/(\d+\.\d\d)\d*$/, '$1')) }));
}

describe('late usage after the final close', () => {
  it('is shown, then billed once on an adjustment invoice after the final one; nothing else is billed after the closure', async () => {
    await runCycle('2026-10-01', '2026-10-01T10:00:00Z');
    // The account is closed on Oct 20 (10:00 Berlin): the workflow closes its final period.
    h.clock.set('2026-10-20T09:00:00Z');
    await h.svc.runtime.orm.em.fork().transactional((em) =>
      closeBillingPeriod(em as Em, { billingAccountId: 'acc_fin', periodStart: new Date('2026-09-30T22:00:00Z'), periodEnd: new Date('2026-10-20T08:00:00Z'), final: true, now: h.clock.now() }, deps),
    );
    // Roaming usage of Oct 18 arrives on Oct 25, through the charges consumer.
    h.clock.set('2026-10-25T09:00:00Z');
    const result = {
      chargeId: 'chg_fin_late', outcome: 'APPLIED', billingAccountId: 'acc_fin', lineId: 'lin_sub_fin', paymentMode: 'POSTPAID', usageType: 'DATA', zone: 'ROAMING_EU',
      occurredAt: '2026-10-18T12:00:00Z', units: '200', unit: 'MB', unitsFromAllowances: '0', amountCharged: '3.40', currency: 'EUR',
    };
    await h.svc.runtime.orm.em.fork().transactional((em) => applyMessages(em as Em, [{ subject: WORK_SUBJECTS.chargeApplied, seq: 1, data: JSON.stringify([result]) } as never], h.clock.now()));

    // Shown: the next invoice is the late usage only, and the gauge counts it.
    const preview = await h.svc.runtime.orm.em.fork().transactional((em) => previewNextInvoice(em as Em, 'acc_fin', deps, h.clock.now()));
    expect(preview.periodStart.toISOString()).toBe('2026-10-20T08:00:00.000Z');
    expect(preview.invoice.lines.map((l) => `${l.kind} ${l.netAmount}`)).toEqual(['ADJUSTMENT 3.40']);
    const metrics = await h.svc.runtime.metrics.getSingleMetricAsString('ledgerline_invoicing_unbilled_after_close');
    expect(metrics).toMatch(/ledgerline_invoicing_unbilled_after_close\{currency="EUR"[^}]*\} 3\.4$/m);

    await runCycle('2026-11-01', '2026-11-01T10:00:00Z');
    await runCycle('2026-12-01', '2026-12-01T10:00:00Z');
    const all = await invoices();
    expect(all).toEqual([
      { from: '2026-08-31T22:00:00.000Z', to: '2026-09-30T22:00:00.000Z', lines: ['RECURRING 29.99'] },
      { from: '2026-09-30T22:00:00.000Z', to: '2026-10-20T08:00:00.000Z', lines: [expect.stringMatching(/^RECURRING /)] },
      // The late usage, on an invoice after the final one, naming it; no fee after the closure.
      { from: '2026-10-20T08:00:00.000Z', to: '2026-10-31T23:00:00.000Z', lines: ['ADJUSTMENT 3.40'] },
    ]);
    const [charge] = await h.svc.runtime.orm.em.fork().getConnection().execute(`select invoice_id from unbilled_charge where charge_id = 'chg_fin_late'`);
    expect(charge.invoice_id).toBeTruthy();
    expect(dec(String(preview.invoice.grossTotal)).gt(0)).toBe(true);
    expect(await h.svc.runtime.metrics.getSingleMetricAsString('ledgerline_invoicing_unbilled_after_close')).not.toMatch(/currency="EUR"/);
  });
});
