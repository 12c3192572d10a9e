/**
 * A re-rate (a catalog correction's adjustments) that takes a bill period's spend past a spend alert tells the
 * customer at the re-rate, once: not only at the account's next rated event, which may never come (nothing more used
 * that period). The notice is the one the rating path would send (same emitted_event key), so the next event tells
 * nothing again; a re-rate lowering the spend below an alert already told takes nothing back.
 * Set-up as spend-alerts.test.ts (the owners consumer learns the account's bill cycle: the 1st, Europe/Berlin).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, EVENTS, type Caller, type ChargeRequest } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { RECORD_USAGE, correctedPlan, filePlanSource, setLine, settleCharges, sqlOf, storedChargeRequests, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_sr${run}`;
const owner = `cus_sr${run}`;
const lineA = `lin_sra${run}`;
const lineB = `lin_srb${run}`;
/** An account whose re-rate adjustment wallets settles for more than asked. */
const accountC = `acc_src${run}`;
const lineC = `lin_src${run}`;
const OWNER: Caller = { role: 'CUSTOMER', subject: 'the-owner', customerId: owner, scopes: [] };

// The correction: world roaming data at 0.59 instead of 0.49 EUR per MB (of the same plan as plv_postpaid).
const dearer = correctedPlan('postpaid-20gb.json', 'roaming-world-data', (p) => (p.pricePerUnit = '0.5900'));

const SET = `mutation($i: SetSpendAlertInput!) { setSpendAlert(input: $i) { spendAlert { id } } }`;
const ALERTS = `query($id: ID!) { _entities(representations: [{ __typename: "BillingAccount", id: $id }]) { ... on BillingAccount { spendAlerts { lineId spent { amount } notified } } } }`;
const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId chargeId previousPrice newPrice } } }`;

async function opened(billingAccountId: string, customerId: string) {
  const event = createCloudEvent({
    source: 'ledgerline/subscribers',
    type: EVENTS.billingAccountCreated.type,
    subject: billingAccountId,
    time: new Date('2026-01-01T00:00:00Z'),
    data: { billingAccountId, customerId, parentAccountId: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'Europe/Berlin', creditLimit: null, autopay: false, partnerId: null, partnerVersion: 0 },
    key: [billingAccountId],
  });
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(event), { msgID: event.id });
}

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_dearer: dearer }), consumers: ['owners'], deliverNew: true }), { clock: new ManualClock(new Date('2026-03-20T12:00:00Z')) });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: lineA, msisdn: '+4915100009881', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: lineB, msisdn: '+4915100009882', account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await setLine(svc, { lineId: lineC, msisdn: '+4915100009883', account: accountC, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
  await opened(account, owner);
  await opened(accountC, owner);
  await waitFor(async () => (await db.query('select 1 from account_owner where billing_account_id = any($1::text[]) and timezone is not null', [[account, accountC]])).rowCount === 2, 15_000, 'the owners from billingaccount.created');
});

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

let seq = 0;
/** Roaming data in Brazil: 0.49 EUR per MB on the postpaid plan, none of it in the allowance. */
async function roam(lineId: string, mb: string) {
  const res = await svc.request(RECORD_USAGE, { input: { source: `sr-${run}`, records: [{ eventId: `e${++seq}`, lineId, usageType: 'DATA', quantity: mb, roamingCountry: 'BR', occurredAt: '2026-03-18T10:00:00Z' }] } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
}

/** The SPEND_ALERT notifications usage emitted for the account: [lineId, alertAmount, spent, usageRecordId, msisdn]. */
async function spendNotices(of = account) {
  const { rows } = await db.query(`select payload from outbox where subject = $1 order by seq`, [EVENTS.usageNotificationRequested.subject]);
  return rows.map((r) => JSON.parse(r.payload).data).filter((d) => d.template === 'SPEND_ALERT' && d.billingAccountId === of)
    .map((d) => [d.lineId, d.alertAmount, d.spent, d.usageRecordId, d.msisdn]).sort((a, b) => String(a[0] ?? '').localeCompare(String(b[0] ?? '')));
}

const rerate = async (planVersionId: string, of = account) => {
  const res = await svc.request(RERATE, { i: { billingAccountId: of, period: '2026-03', planVersionId } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.rerate as { recordsRerated: number; adjustments: { usageRecordId: string; chargeId: string }[] };
};

/**
 * Wallets applies the re-rate's adjustments as sent (a re-rate waits for them to be settled), or for `taken` where it
 * says; with `alerts`, through the spend alert check the ChargeResult consumer passes (its alerts as the rating path caches them).
 */
async function settleAdjustments(adjustments: { chargeId: string }[], o: { taken?: string; alerts?: boolean } = {}) {
  const ids = new Set(adjustments.map((a) => a.chargeId));
  const deltas = (await storedChargeRequests(db)).filter((c: ChargeRequest) => ids.has(c.chargeId));
  expect(deltas).toHaveLength(ids.size);
  const usage = usageRuntimeOf(svc.runtime);
  const alerts = o.alerts ? { setsOf: (accounts: Iterable<string>) => usage.pipeline.spendAlertSetsOf(accounts), now: svc.runtime.clock.now() } : undefined;
  return applyChargeResults(usage.sql, deltas.map((d) => ({
    chargeId: d.chargeId, outcome: 'APPLIED' as const, billingAccountId: d.billingAccountId, lineId: d.lineId, paymentMode: d.paymentMode, usageType: d.usageType, occurredAt: d.occurredAt,
    units: d.units, unit: d.unit, unitsFromAllowances: '0', amountCharged: o.taken ?? d.pricePerUnit, currency: d.currency,
  })), alerts);
}

describe('spend alerts and re-rates', () => {
  it('a re-rate raising the spend past an alert tells it at the re-rate, once; lowering it again takes nothing back', async () => {
    expect((await svc.request(SET, { i: { billingAccountId: account, amount: { amount: '20', currency: 'EUR' }, idempotencyKey: 'acc-20' } }, OWNER)).errors).toBeUndefined();
    expect((await svc.request(SET, { i: { billingAccountId: account, lineId: lineA, amount: { amount: '10', currency: 'EUR' }, idempotencyKey: 'a-10' } }, OWNER)).errors).toBeUndefined();
    await roam(lineA, '20'); // 9.80: line A below its 10
    await roam(lineB, '20'); // account 19.60: below its 20
    expect(await spendNotices()).toEqual([]);
    expect(await settleCharges(db, [lineA, lineB])).toBe(2);

    // The correction: 0.59 per MB, line A 11.80 and the account 23.60 - told now, with no further usage.
    const up = await rerate('plv_dearer');
    expect(up.recordsRerated).toBe(2);
    expect(await spendNotices()).toEqual([[null, '20.00', '23.60', null, null], [lineA, '10.00', '11.80', null, '+4915100009881']]);
    const read = await svc.request(ALERTS, { id: account }, OWNER);
    expect(read.data._entities[0].spendAlerts).toEqual([{ lineId: null, spent: { amount: '23.60' }, notified: true }, { lineId: lineA, spent: { amount: '11.80' }, notified: true }]);

    // The next rated event finds both told (the rating path's own notice key): nothing again.
    await roam(lineB, '0.1'); // 0.049 at the plan's 0.49
    expect(await spendNotices()).toHaveLength(2);

    // Corrected back (the plan's own version, 0.49): below both amounts, still told this period; nothing new.
    await settleAdjustments(up.adjustments);
    await settleCharges(db, [lineB]);
    const down = await rerate('plv_postpaid');
    expect(down.recordsRerated).toBe(2);
    expect((await svc.request(ALERTS, { id: account }, OWNER)).data._entities[0].spendAlerts).toEqual([{ lineId: null, spent: { amount: '19.64' }, notified: true }, { lineId: lineA, spent: { amount: '9.80' }, notified: true }]);
    expect(await spendNotices()).toHaveLength(2);
  });

  it('a re-rate adjustment wallets settles for more than asked tells the alert the spend now reaches, at the settlement, once', async () => {
    expect((await svc.request(SET, { i: { billingAccountId: accountC, amount: { amount: '12', currency: 'EUR' }, idempotencyKey: 'c-12' } }, OWNER)).errors).toBeUndefined();
    await roam(lineC, '20'); // 9.80
    expect(await settleCharges(db, [lineC])).toBe(1);
    // The correction: 11.80 at the re-rate's estimate, below the 12: nothing told yet.
    const up = await rerate('plv_dearer', accountC);
    expect(up.adjustments).toHaveLength(1);
    expect(await spendNotices(accountC)).toEqual([]);
    // Wallets takes 2.50 for the 2.00 asked: the spend is 12.30, past the 12 - told at the settlement (no further usage).
    expect((await settleAdjustments(up.adjustments, { taken: '2.5', alerts: true })).notices).toBe(1);
    expect(await spendNotices(accountC)).toEqual([[null, '12.00', '12.30', up.adjustments[0]!.usageRecordId, null]]);
    expect((await svc.request(ALERTS, { id: accountC }, OWNER)).data._entities[0].spendAlerts).toEqual([{ lineId: null, spent: { amount: '12.30' }, notified: true }]);
    // A redelivery settles nothing and tells nothing; the next rated event finds it told (the same notice id).
    expect((await settleAdjustments(up.adjustments, { taken: '2.5', alerts: true })).notices).toBe(0);
    await roam(lineC, '0.1');
    expect(await spendNotices(accountC)).toHaveLength(1);
  });
});
