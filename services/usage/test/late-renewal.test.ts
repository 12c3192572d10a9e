import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, dec, EVENTS, type SubscriptionData } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { RECORD_USAGE, filePlanSource, setLine, sqlOf, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const line = `lin_late${run}`;
const account = `acc_late${run}`;

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: ['bundles', 'subscribers'], deliverNew: true }), { clock: new ManualClock(new Date('2026-04-10T12:00:00Z')) });
  db = await sqlOf(svc);
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('allowance periods that do not start where the subscription was created', () => {
  it("counts live usage from where wallets restarted the bundle, not from the subscription's first period", async () => {
    // 30-day bundle (10 GB) since 1 January: its periods would start 1 January, 31 January, 2 March, 1 April…
    await setLine(svc, { lineId: line, msisdn: `+4915177${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`, account, planVersionId: 'plv_prepaid', paymentMode: 'PREPAID' });
    // …but on 1 April the balance did not cover the fee; a top-up on 3 April 12:00 renewed it from then.
    const data = { subscriptionId: `sub_${line}`, billingAccountId: account, lineId: line, planVersionId: 'plv_prepaid', periodStart: '2026-04-03T12:00:00.000Z', periodEnd: '2026-05-03T12:00:00.000Z', anchorAt: '2026-04-03T12:00:00.000Z', fee: { amount: '15.00', currency: 'EUR' }, allowancesGranted: 3, rollover: [] };
    const e = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS.bundleRenewed.type, subject: data.subscriptionId, time: new Date('2026-04-03T12:00:00Z'), data, key: [data.subscriptionId, data.periodStart] });
    for (let i = 0; i < 2; i++) await svc.runtime.messaging.js.publish(EVENTS.bundleRenewed.subject, JSON.stringify(e), { msgID: `${e.id}-${i}` }); // delivered twice
    await waitFor(async () => (await db.query('select 1 from period_anchor where line_id = $1', [line])).rowCount, 10_000, 'the restart to reach usage');

    const res = await svc.request(RECORD_USAGE, {
      input: {
        source: `late-${run}`,
        records: [
          { eventId: 'gap', lineId: line, usageType: 'DATA', quantity: '1000', occurredAt: '2026-04-02T08:00:00Z' }, // no bundle in wallets then
          { eventId: 'after', lineId: line, usageType: 'DATA', quantity: '9000', occurredAt: '2026-04-05T08:00:00Z' },
          { eventId: 'more', lineId: line, usageType: 'DATA', quantity: '2000', occurredAt: '2026-04-06T08:00:00Z' },
        ],
      },
    });
    expect(res.data.recordUsage.rated).toBe(3);
    // The restarted period holds 11000 MB: 760 over the 10240 at 0.02 (counting from 1 April it would be 1760 over).
    const { rows } = await db.query(`select event_id, spend from usage_record where line_id = $1 order by occurred_at`, [line]);
    expect(rows.map((r) => [r.event_id, dec(r.spend).toString()])).toEqual([['gap', '0'], ['after', '0'], ['more', '15.2']]);

    const usageIn = async (period: string) =>
      (await svc.request(`query($p: String) { _entities(representations: [{ __typename: "Line", id: "${line}" }]) { ... on Line { usage(period: $p) { period periodStart periodEnd } } } }`, { p: period })).data._entities[0].usage;
    expect(await usageIn('2026-04-05')).toEqual({ period: '2026-04-03', periodStart: '2026-04-03T12:00:00.000Z', periodEnd: '2026-05-03T12:00:00.000Z' });
    // The period the late fee cut short ends at the restart.
    expect(await usageIn('2026-04-02')).toEqual({ period: '2026-04-01', periodStart: '2026-04-01T00:00:00.000Z', periodEnd: '2026-04-03T12:00:00.000Z' });
    expect((await db.query('select count(*)::int as n from period_anchor where line_id = $1', [line])).rows[0].n).toBe(1);
  });

  it("keeps where a subscription's paid periods lapsed (bundle.feedue) and where a late renewal resumed them (bundle.renewed lapsedAt)", async () => {
    const sub = `sub_lapse${run}`;
    const lineId = `lin_lapse${run}`;
    const publish = async (name: 'bundleFeeDue' | 'bundleRenewed', data: object, key: string) => {
      const e = createCloudEvent({ source: 'ledgerline/wallets', type: EVENTS[name].type, subject: sub, time: new Date('2026-04-03T12:00:00Z'), data, key: [sub, key] });
      await svc.runtime.messaging.js.publish(EVENTS[name].subject, JSON.stringify(e), { msgID: e.id });
    };
    const lapses = async () => (await db.query('select lapsed_at, resumed_at from period_lapse where subscription_id = $1', [sub])).rows.map((r) => [r.lapsed_at.toISOString(), r.resumed_at?.toISOString() ?? null]);
    await publish('bundleFeeDue', { subscriptionId: sub, billingAccountId: account, lineId, fee: { amount: '15.00', currency: 'EUR' }, balance: { amount: '2.00', currency: 'EUR' }, period: '2026-04-01T00:00:00.000Z' }, 'due');
    await waitFor(async () => (await lapses()).length, 10_000, 'the lapse to reach usage');
    expect(await lapses()).toEqual([['2026-04-01T00:00:00.000Z', null]]);
    await publish('bundleRenewed', { subscriptionId: sub, billingAccountId: account, lineId, planVersionId: 'plv_prepaid', periodStart: '2026-04-03T12:00:00.000Z', periodEnd: '2026-05-03T12:00:00.000Z', anchorAt: '2026-04-03T12:00:00.000Z', lapsedAt: '2026-04-01T00:00:00.000Z', fee: null, allowancesGranted: 1, rollover: [] }, 'renewed');
    await waitFor(async () => (await lapses())[0]?.[1], 10_000, 'the resumption to reach usage');
    expect(await lapses()).toEqual([['2026-04-01T00:00:00.000Z', '2026-04-03T12:00:00.000Z']]);
  });

  it('a line activated after its order was placed counts from the activation, as wallets grants its bundle then', async () => {
    const late = `lin_act${run}`;
    const msisdn = `+4915178${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
    const publish = async (name: 'subscriptionCreated' | 'subscriptionChanged' | 'lineStateChanged', data: object, time: string, key: string) => {
      const e = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS[name].type, subject: late, time: new Date(time), data, key: [key] });
      await svc.runtime.messaging.js.publish(EVENTS[name].subject, JSON.stringify(e), { msgID: e.id });
    };
    const sub: SubscriptionData = { subscriptionId: `sub_${late}`, lineId: late, msisdn, billingAccountId: account, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'PREPAID_BUNDLE_30D', planVersionId: 'plv_prepaid', status: 'PENDING', startsAt: '2026-03-01T08:00:00.000Z', endsAt: null, addOns: [] };
    await publish('lineStateChanged', { lineId: late, msisdn, billingAccountId: account, status: 'PENDING' }, '2026-03-01T08:00:00Z', `${late}-l1`);
    await publish('subscriptionCreated', sub, '2026-03-01T08:00:00Z', `${late}-s1`);
    // Provisioning took two days: activated on 3 March 08:00.
    await publish('lineStateChanged', { lineId: late, msisdn, billingAccountId: account, status: 'ACTIVE' }, '2026-03-03T08:00:00Z', `${late}-l2`);
    await publish('subscriptionChanged', { ...sub, status: 'ACTIVE', startsAt: '2026-03-03T08:00:00.000Z' }, '2026-03-03T08:00:00Z', `${late}-s2`);
    const periodAt = async (day: string) =>
      (await svc.request(`query($p: String) { _entities(representations: [{ __typename: "Line", id: "${late}" }]) { ... on Line { usage(period: $p) { period periodEnd } } } }`, { p: day })).data._entities[0].usage;
    await waitFor(async () => (await periodAt('2026-03-10')).period === '2026-03-03', 10_000, 'usage to follow the activation');
    expect(await periodAt('2026-04-01')).toEqual({ period: '2026-03-03', periodEnd: '2026-04-02T08:00:00.000Z' });
  });
});
