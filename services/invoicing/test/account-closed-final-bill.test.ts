// Subscribers closes a billing account (`closeBillingAccount`, every line terminated first) and
// says so on `billingaccount.closed`. Before, invoicing ignored the event: the account stayed open,
// its last days were billed only if a bill run billed a whole month on (the fee after the closure)
// and `final` reached invoicing only through the bill-cycle workflow's signal, which nothing sends.
// Now the consumer bills the final period (from where its invoices end to closedAt, the fee
// prorated over the cycle's days as a bill run prorates it), marks the account CLOSED, bills nothing
// more on a redelivery, and a late charge goes on an adjustment invoice by the next bill run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, WORK_SUBJECTS, createCloudEvent } from '@ledgerline/contracts';
import { scrapeMetrics, type Em } from '@ledgerline/platform';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';
import { billClosedAccount } from '../src/application/close-account';
import { applyMessages } from '../src/events/consumer';
import { account, startHarness, subscribe, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-09-01T10:00:00Z', { runBillRuns: false });
});
afterAll(async () => h?.svc.close());

const run = Date.now().toString(36);
const ACC = `acc_cls_${run}`;
const deps = { catalog: null };

const cloudEvent = (type: string, key: string, time: string, data: unknown) =>
  JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type, subject: key, time: new Date(time), data, key: [key, time] }));
const closedEvent = (billingAccountId: string, closedAt: unknown) =>
  cloudEvent(EVENTS.billingAccountClosed.type, billingAccountId, '2026-10-20T08:00:00Z', { billingAccountId, customerId: 'cus_leaving', closedAt, reason: 'Moving abroad' });
const publish = (subject: string, payload: string) => h.svc.runtime.messaging.js.publish(subject, payload);
const query = async (text: string, params: unknown[] = []) => (await h.svc.runtime.orm.em.fork().getConnection().execute(text, params)) as Record<string, any>[];
const dropped = async (reason: string) => (await scrapeMetrics(h.svc))[`ledgerline_invoicing_subscriber_events_dropped_total{reason="${reason}"}`] ?? 0;

/** Publishes an account event after what came before and waits for it: the consumer has handled everything before it. */
async function drain(tag: string): Promise<void> {
  const id = `acc_drain_${run}_${tag}`;
  await publish(EVENTS.billingAccountCreated.subject, cloudEvent(EVENTS.billingAccountCreated.type, id, '2026-10-01T00:00:00Z', { billingAccountId: id, customerId: 'cus_d', paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false }));
  await waitFor(async () => (await query('select id from billing_account where id = ?', [id])).length > 0);
}

async function runCycle(cycleDate: string, at: string): Promise<void> {
  h.clock.set(at);
  const orm = h.svc.runtime.orm;
  const now = h.clock.now();
  const { run: billRun } = await orm.em.fork().transactional((em) => startBillRun(em as Em, { cycleDate, batchSize: 10, driver: 'WORKFLOW', now }));
  while (await orm.em.fork().transactional((em) => processBillRunBatch(em as Em, billRun.id, null, deps, now)));
}

async function invoices(): Promise<{ from: string; to: string; state: string; lines: string[] }[]> {
  const r = await query(
    `select i.id, i.period_start, i.period_end, i.state, coalesce(array_agg(l.kind || ' ' || l.net_amount || ' ' || l.description order by l.position) filter (where l.id is not null), '{}') as lines
       from invoice i left join invoice_line l on l.invoice_id = i.id where i.billing_account_id = ? and i.voided_at is null group by i.id order by i.period_start`,
    [ACC],
  );
  return r.map((x) => ({ from: new Date(x.period_start).toISOString(), to: new Date(x.period_end).toISOString(), state: x.state, lines: x.lines.map((l: string) => l.replace(/^(\w+ -?\d+\.\d\d)\d*/, '$1')) }));
}

describe('billingaccount.closed', () => {
  it('bills the final part-period (prorated fee) once, marks the account CLOSED; a redelivery bills nothing more; a late charge goes on an adjustment invoice', async () => {
    await account(h, ACC);
    await subscribe(h, ACC, `sub_cls_${run}`, 'postpaid20', '2026-08-31T22:00:00Z', `lin_cls_${run}`);
    await runCycle('2026-10-01', '2026-10-01T10:00:00Z');

    // Oct 20, 09:00 Berlin: the agent terminates the line; at 10:00 closes the account.
    h.clock.set('2026-10-20T08:30:00Z');
    await publish(EVENTS.subscriptionChanged.subject, cloudEvent(EVENTS.subscriptionChanged.type, `sub_cls_${run}`, '2026-10-20T07:00:00Z', {
      subscriptionId: `sub_cls_${run}`, lineId: `lin_cls_${run}`, msisdn: '+491510000099', billingAccountId: ACC, paymentMode: 'POSTPAID', currency: 'EUR',
      planCode: 'POSTPAID_20GB', planVersionId: 'plv_postpaid20_v1', status: 'ENDED', startsAt: '2026-08-31T22:00:00Z', endsAt: '2026-10-20T07:00:00Z', addOns: [],
    }));
    await publish(EVENTS.billingAccountClosed.subject, closedEvent(ACC, '2026-10-20T08:00:00Z'));
    await waitFor(async () => (await query(`select status from billing_account where id = ? and status = 'CLOSED'`, [ACC])).length > 0);

    const [acc] = await query('select status, closed_at from billing_account where id = ?', [ACC]);
    expect({ status: acc!.status, closedAt: new Date(acc!.closed_at).toISOString() }).toEqual({ status: 'CLOSED', closedAt: '2026-10-20T08:00:00.000Z' });
    // October 1..19 of 31 days (the closing day counts to nothing, as for a line ended that day): 29.99 × 19/31 = 18.38.
    const afterClose = await invoices();
    expect(afterClose).toEqual([
      { from: '2026-08-31T22:00:00.000Z', to: '2026-09-30T22:00:00.000Z', state: 'SENT', lines: [expect.stringMatching(/^RECURRING 29\.99 /)] },
      { from: '2026-09-30T22:00:00.000Z', to: '2026-10-20T08:00:00.000Z', state: 'SENT', lines: [expect.stringMatching(/^RECURRING 18\.38 .*19\/31 days/)] },
    ]);
    const periods = await query('select period_start, period_end from billing_period where billing_account_id = ? order by period_start', [ACC]);
    expect(periods.map((p) => [new Date(p.period_start).toISOString(), new Date(p.period_end).toISOString()])).toEqual([['2026-09-30T22:00:00.000Z', '2026-10-20T08:00:00.000Z']]);

    // Redelivered (the same event again): nothing more is billed.
    await publish(EVENTS.billingAccountClosed.subject, closedEvent(ACC, '2026-10-20T08:00:00Z'));
    await drain('redelivery');
    expect(await invoices()).toEqual(afterClose);
    // And asked directly: nothing to do.
    expect(await h.svc.runtime.orm.em.fork().transactional((em) => billClosedAccount(em as Em, { billingAccountId: ACC, closedAt: new Date('2026-10-20T08:00:00Z'), now: h.clock.now() }, deps))).toEqual({ periods: [] });

    // Roaming usage of Oct 18 arrives on Oct 25: the next bill run bills it alone, on an adjustment invoice after the final one.
    h.clock.set('2026-10-25T09:00:00Z');
    const late = {
      chargeId: `chg_cls_${run}`, outcome: 'APPLIED', billingAccountId: ACC, lineId: `lin_cls_${run}`, paymentMode: 'POSTPAID', usageType: 'DATA', zone: 'ROAMING_EU',
      occurredAt: '2026-10-18T12:00:00Z', units: '200', unit: 'MB', unitsFromAllowances: '0', amountCharged: '3.40', currency: 'EUR',
    };
    await h.svc.runtime.orm.em.fork().transactional((em) => applyMessages(em as Em, [{ subject: WORK_SUBJECTS.chargeApplied, seq: 1, data: JSON.stringify([late]) }], h.clock.now()));
    await runCycle('2026-11-01', '2026-11-01T10:00:00Z');
    await runCycle('2026-12-01', '2026-12-01T10:00:00Z');
    expect((await invoices()).map((i) => [i.from, i.to, i.lines.map((l) => l.split(' ').slice(0, 2).join(' '))])).toEqual([
      ['2026-08-31T22:00:00.000Z', '2026-09-30T22:00:00.000Z', ['RECURRING 29.99']],
      ['2026-09-30T22:00:00.000Z', '2026-10-20T08:00:00.000Z', ['RECURRING 18.38']],
      ['2026-10-20T08:00:00.000Z', '2026-10-31T23:00:00.000Z', ['ADJUSTMENT 3.40']],
    ]);
  });

  it('a closed event it cannot apply is left out and counted (a bad date, an account it does not know); the consumer goes on', async () => {
    const before = { invalid: await dropped('invalid'), refused: await dropped('refused') };
    await publish(EVENTS.billingAccountClosed.subject, closedEvent(`acc_cls_bad_${run}`, 'not a date'));
    await publish(EVENTS.billingAccountClosed.subject, closedEvent(`acc_cls_unknown_${run}`, '2026-10-20T08:00:00Z'));
    await drain('after-bad');
    await waitFor(async () => (await dropped('invalid')) - before.invalid >= 1 && (await dropped('refused')) - before.refused >= 1);
    expect(await query('select id from billing_account where id like ?', [`acc_cls_%${run}`])).toEqual([{ id: ACC }]);
  });
});
