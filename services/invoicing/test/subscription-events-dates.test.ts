// Subscribers' subscription events into the plan segments invoicing bills fees from. In subscribers a
// subscription holds ONE plan version from its `startsAt` to its `endsAt` (a plan change is a new
// subscription); `subscription.changed` is sent for any change of it — an add-on bought or ended, a
// SCHEDULED plan becoming ACTIVE, a termination — with the event's `time` the moment of that change.
// Invoicing took that time as the instant the subscription's plan started (a plan change on the same
// subscription), so:
//  - an add-on bought while an END_OF_CYCLE change waits (the SCHEDULED subscription is sent again,
//    time = the purchase) started the next plan at the purchase: both plans billed for the rest of the
//    period;
//  - a line terminated while such a change waits (the SCHEDULED subscription ENDED unstarted) started
//    the never-held plan at the termination, open-ended: billed every month after the line was gone;
//  - a line ordered (PENDING) and activated days later was billed from the order, and one whose
//    activation never completed was billed every month.
// Real PostgreSQL and NATS (the subscribers consumer), bills by closeBillingPeriod.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent, type SubscriptionData } from '@ledgerline/contracts';
import { PLANS, startHarness, waitFor, type Harness } from './support';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('2026-09-01T06:00:00Z', { runBillRuns: false });
});
afterAll(async () => h?.svc.close());

const run = Date.now().toString(36);
let seq = 0;
const publish = (subject: string, type: string, key: string, time: string, data: unknown) =>
  h.svc.runtime.messaging.js.publish(subject, JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type, subject: key, time: new Date(time), data, key: [key, time, String(seq++)] })));
const query = async (text: string, params: unknown[] = []) => (await h.svc.runtime.orm.em.fork().getConnection().execute(text, params)) as Record<string, any>[];

/** Berlin months (cycle day 1). */
const SEP = { periodStart: '2026-08-31T22:00:00Z', periodEnd: '2026-09-30T22:00:00Z' };
const OCT = { periodStart: '2026-09-30T22:00:00Z', periodEnd: '2026-10-31T23:00:00Z' };
const NOV = { periodStart: '2026-10-31T23:00:00Z', periodEnd: '2026-11-30T23:00:00Z' };

async function openAccount(id: string): Promise<void> {
  await publish(EVENTS.billingAccountCreated.subject, EVENTS.billingAccountCreated.type, id, '2026-08-01T00:00:00Z', {
    billingAccountId: id, customerId: `cus_${id}`, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false,
  });
}

type Sub = { id: string; account: string; line: string; plan: keyof typeof PLANS; status: string; startsAt: string; endsAt?: string | null; addOns?: SubscriptionData['addOns'] };
const data = (s: Sub): SubscriptionData => ({
  subscriptionId: s.id, lineId: s.line, msisdn: '+491510000042', billingAccountId: s.account, paymentMode: 'POSTPAID', currency: 'EUR',
  planCode: PLANS[s.plan].document.code, planVersionId: PLANS[s.plan].id, status: s.status, startsAt: s.startsAt, endsAt: s.endsAt ?? null, addOns: s.addOns ?? [],
});
/** As subscribers' emitSubscription sends them: the event's time is when the change was made. */
const created = (s: Sub, time: string) => publish(EVENTS.subscriptionCreated.subject, EVENTS.subscriptionCreated.type, s.id, time, data(s));
const changed = (s: Sub, time: string) => publish(EVENTS.subscriptionChanged.subject, EVENTS.subscriptionChanged.type, s.id, time, data(s));

/** Everything published before has been applied (one consumer, in order). */
async function drain(): Promise<void> {
  const id = `acc_sd_drain_${run}_${seq}`;
  await openAccount(id);
  await waitFor(async () => (await query('select id from billing_account where id = ?', [id])).length > 0);
}

const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id } } } }';
/** Bills the period and answers its RECURRING lines as "net description". */
async function fees(accountId: string, p: { periodStart: string; periodEnd: string }): Promise<string[]> {
  h.clock.set(new Date(new Date(p.periodEnd).getTime() + 10 * 3_600_000));
  await h.gql(CLOSE, { i: { billingAccountId: accountId, ...p } });
  const lines = await query(
    `select l.net_amount, l.description from invoice i join invoice_line l on l.invoice_id = i.id
      where i.billing_account_id = ? and i.period_start = ? and i.voided_at is null and l.kind = 'RECURRING' order by l.position`,
    [accountId, p.periodStart],
  );
  return lines.map((l) => `${Number(l.net_amount).toFixed(2)} ${l.description}`);
}

const boost = { code: 'DATA_BOOST_5GB', startsAt: '2026-09-16T10:00:00.000Z', endsAt: '2026-10-16T10:00:00.000Z' };

describe('subscription events: a subscription holds its plan from its startsAt, whenever it is sent again', () => {
  it('an add-on bought while an END_OF_CYCLE downgrade waits bills the old plan for the whole period, the new one from its start', async () => {
    const acc = `acc_sd_addon_${run}`;
    await openAccount(acc);
    const old: Sub = { id: `sub_sd_addon_old_${run}`, account: acc, line: `lin_sd_addon_${run}`, plan: 'postpaid50', status: 'ACTIVE', startsAt: SEP.periodStart };
    const next: Sub = { ...old, id: `sub_sd_addon_new_${run}`, plan: 'postpaid20', status: 'SCHEDULED', startsAt: SEP.periodEnd };
    await created(old, '2026-08-31T22:00:00Z');
    // Sep 10: downgrade at the end of the cycle (applyPlanChange: the old one's end, the next one SCHEDULED).
    await changed({ ...old, endsAt: SEP.periodEnd }, SEP.periodEnd);
    await created(next, '2026-09-10T08:00:00Z');
    // Sep 16: a data boost bought; carried to the waiting plan (fulfil-order's ADD_ON).
    await changed({ ...old, endsAt: SEP.periodEnd, addOns: [boost] }, '2026-09-16T10:00:00Z');
    await changed({ ...next, addOns: [boost] }, '2026-09-16T10:00:00Z');
    // Oct 1, 00:05 Berlin: the sweep starts the new plan and ends the old one.
    await changed({ ...old, status: 'ENDED', endsAt: SEP.periodEnd, addOns: [boost] }, '2026-09-30T22:05:00Z');
    await changed({ ...next, status: 'ACTIVE', addOns: [boost] }, '2026-09-30T22:05:00Z');
    await drain();

    expect(await fees(acc, SEP)).toEqual([expect.stringMatching(/^45\.00 Postpaid 50 GB \(\+491510000042\)$/)]);
    expect(await fees(acc, OCT)).toEqual([expect.stringMatching(/^29\.99 /)]);
  });

  it('a line terminated while a plan change waits is billed its plan up to the termination, and nothing after', async () => {
    const acc = `acc_sd_term_${run}`;
    await openAccount(acc);
    const old: Sub = { id: `sub_sd_term_old_${run}`, account: acc, line: `lin_sd_term_${run}`, plan: 'postpaid50', status: 'ACTIVE', startsAt: SEP.periodStart };
    const next: Sub = { ...old, id: `sub_sd_term_new_${run}`, plan: 'postpaid20', status: 'SCHEDULED', startsAt: SEP.periodEnd };
    await created(old, '2026-08-31T22:00:00Z');
    await changed({ ...old, endsAt: SEP.periodEnd }, SEP.periodEnd);
    await created(next, '2026-09-10T08:00:00Z');
    // Sep 20, 10:00 Berlin: TERMINATE (fulfil-order): the live one ends now, the waiting one where it would have begun.
    await changed({ ...old, status: 'ENDED', endsAt: '2026-09-20T08:00:00Z' }, '2026-09-20T08:00:00Z');
    await changed({ ...next, status: 'ENDED', endsAt: SEP.periodEnd }, '2026-09-20T08:00:00Z');
    // Earlier events redelivered after it (a batch nak'd and sent again): an end is never taken back.
    await created(next, '2026-09-10T08:00:00Z');
    await changed({ ...old, endsAt: SEP.periodEnd }, SEP.periodEnd);
    await drain();

    // Sep 1..19 of 30 days: 45.00 × 19/30 = 28.50; the waiting plan was never held.
    expect(await fees(acc, SEP)).toEqual([expect.stringMatching(/^28\.50 Postpaid 50 GB .*19\/30 days/)]);
    expect(await fees(acc, OCT)).toEqual([]);
    expect(await fees(acc, NOV)).toEqual([]);
  });

  it('a line ordered (PENDING) is billed from its activation; one never activated is not billed', async () => {
    const acc = `acc_sd_pending_${run}`;
    await openAccount(acc);
    // Ordered Sep 10 (addLine: the subscription PENDING from the order), live Sep 20, 10:00 Berlin (completeOrder: startsAt moved to then).
    const live: Sub = { id: `sub_sd_live_${run}`, account: acc, line: `lin_sd_live_${run}`, plan: 'postpaid20', status: 'PENDING', startsAt: '2026-09-10T08:00:00Z' };
    await created(live, '2026-09-10T08:00:00Z');
    await changed({ ...live, status: 'ACTIVE', startsAt: '2026-09-20T08:00:00Z' }, '2026-09-20T08:00:00Z');
    // Ordered Sep 12; its NEW_LINE order failed (failOrder): the subscription stays PENDING, no other event.
    const never: Sub = { id: `sub_sd_never_${run}`, account: acc, line: `lin_sd_never_${run}`, plan: 'postpaid20', status: 'PENDING', startsAt: '2026-09-12T08:00:00Z' };
    await created(never, '2026-09-12T08:00:00Z');
    await drain();

    // Sep 20..30: 29.99 × 11/30 = 10.996… → 11.00, the live line only.
    expect(await fees(acc, SEP)).toEqual([expect.stringMatching(/^11\.00 Smart 20 GB .*11\/30 days/)]);
    expect(await fees(acc, OCT)).toEqual([expect.stringMatching(/^29\.99 /)]);
  });
});
