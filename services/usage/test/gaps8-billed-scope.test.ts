/**
 * Which records an invoice bills (customerBillCreated → BILLED), as invoicing bills them: every
 * unbilled charge of the account that occurred before the period's end and reached it before the
 * invoice was issued (bill-accounts.ts: `c.invoice_id is null and c.occurred_at < p.period_end`;
 * an earlier period's charge - a late event, a rerate adjustment - becomes an adjustment line of
 * this invoice). DENIED charges are never billed (invoicing keeps none).
 *
 * mark-billed moved only RATED records of [periodStart, periodEnd) without adjusts_invoice_id:
 * a record RERATED before its invoice, and a late event billed on the next invoice (it carries
 * adjusts_invoice_id of the invoice it adjusts), stayed out of `usageRecords(status: BILLED)` for
 * ever; a DENIED record was reported BILLED.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createCloudEvent, EVENTS, type ChargeRequest } from '@ledgerline/contracts';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { RECORD_USAGE, filePlanSource, planDocument, setLine, settleCharges, sqlOf, storedChargeRequests, waitFor } from './support';

let svc: TestService;
let db: pg.Client;
const clock = new ManualClock(new Date('2026-02-20T12:00:00Z'));
const run = Math.random().toString(36).slice(2, 8);
const account = `acc_bs${run}`;
const line = `lin_bs${run}`;

type Plan = { rules: { name: string; event: { params: Record<string, unknown> } }[] };
// A catalog correction: world roaming data at 0.39 instead of 0.49 per MB.
const cheaper = planDocument('postpaid-20gb.json') as Plan;
cheaper.rules.find((r) => r.name === 'roaming-world-data')!.event.params.pricePerUnit = '0.3900';
const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId chargeId } } }`;

async function record(eventId: string, occurredAt: string) {
  const res = await svc.request(RECORD_USAGE, { input: { source: `bs-${run}`, records: [{ eventId, lineId: line, usageType: 'DATA', quantity: '10', roamingCountry: 'US', occurredAt }] } });
  expect(res.errors).toBeUndefined();
  expect(res.data.recordUsage.rated).toBe(1);
}

async function publishBill(invoiceId: string, periodStart: string, periodEnd: string, issuedAt: string) {
  const data = { invoiceId, number: `INV-${invoiceId}`, billingAccountId: account, state: 'SENT', periodStart, periodEnd, currency: 'EUR', netTotal: '1', taxTotal: '0', total: '1', usageAmount: '1', usageRecords: 1 };
  const e = createCloudEvent({ source: 'ledgerline/invoicing', type: EVENTS.customerBillCreated.type, subject: invoiceId, time: new Date(issuedAt), data, key: [invoiceId, 'issued'] });
  await svc.runtime.messaging.js.publish(EVENTS.customerBillCreated.subject, JSON.stringify(e), { msgID: e.id });
  await waitFor(async () => (await db.query('select 1 from billed_period where invoice_id = $1', [invoiceId])).rowCount, 15_000, `${invoiceId} to be applied`);
}

/** wallets' answer to a re-rate adjustment's ChargeRequest. */
async function settleAdjustment(chargeId: string) {
  const [c] = (await storedChargeRequests(db, 'true')).filter((x) => x.chargeId === chargeId) as ChargeRequest[];
  expect(c).toBeDefined();
  await applyChargeResults(usageRuntimeOf(svc.runtime).sql, [{
    chargeId: c!.chargeId, outcome: 'APPLIED', billingAccountId: c!.billingAccountId, lineId: c!.lineId, paymentMode: c!.paymentMode, usageType: c!.usageType, occurredAt: c!.occurredAt,
    units: c!.units, unit: c!.unit, unitsFromAllowances: '0', amountCharged: c!.amount ?? '0', currency: c!.currency,
  } as never]);
}

const statuses = async () => Object.fromEntries((await db.query('select event_id, status from usage_record where line_id = $1', [line])).rows.map((r) => [r.event_id, r.status]));

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource({ plv_fixed: cheaper }), consumers: ['bills'], deliverNew: true }), { clock });
  db = await sqlOf(svc);
  await setLine(svc, { lineId: line, msisdn: `+49155${String(Date.now()).slice(-7)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID', startsAt: '2026-01-01T00:00:00Z', at: '2026-01-01T00:00:00Z', subscriptionId: `sub_bs${run}` });
}, 60_000);

afterAll(async () => {
  await db?.end();
  await svc?.close();
});

describe('what an invoice bills', () => {
  it('bills records re-rated before it, late events of billed periods on the next invoice, never DENIED ones', async () => {
    await record('feb-a', '2026-02-10T10:00:00Z');
    await record('feb-b', '2026-02-11T10:00:00Z');
    expect(await settleCharges(db, [line], 'APPLIED')).toBe(2);
    await record('feb-denied', '2026-02-12T10:00:00Z');
    expect(await settleCharges(db, [line], 'DENIED')).toBe(1);

    // February re-rated before its invoice: feb-a's credit reaches the ledger, feb-b's not yet.
    const rerated = await svc.request(RERATE, { i: { billingAccountId: account, period: '2026-02', planVersionId: 'plv_fixed' } });
    expect(rerated.errors).toBeUndefined();
    expect(rerated.data.rerate.recordsRerated).toBe(2);
    const adjustmentOf = async (eventId: string) => {
      const { rows } = await db.query('select a.charge_id from rerate_adjustment a join usage_record r on r.id = a.usage_record_id where r.event_id = $1 and r.line_id = $2', [eventId, line]);
      return rows[0].charge_id as string;
    };
    await settleAdjustment(await adjustmentOf('feb-a'));
    expect(await statuses()).toEqual({ 'feb-a': 'RERATED', 'feb-b': 'RERATED', 'feb-denied': 'RATED' });

    clock.set(new Date('2026-03-02T06:00:00Z'));
    await publishBill(`inv_feb_${run}`, '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', '2026-03-02T00:00:00Z');
    // feb-a: charge and credit both on the invoice. feb-b: its credit is not (the ledger had not
    // applied it). feb-denied: nothing was charged.
    expect(await statuses()).toEqual({ 'feb-a': 'BILLED', 'feb-b': 'RERATED', 'feb-denied': 'RATED' });

    // A late February event after the February invoice: an adjustment of it, billed on March's invoice.
    clock.set(new Date('2026-03-05T06:00:00Z'));
    await record('feb-late', '2026-02-15T10:00:00Z');
    expect((await db.query('select adjusts_invoice_id from usage_record where event_id = $1 and line_id = $2', ['feb-late', line])).rows[0].adjusts_invoice_id).toBe(`inv_feb_${run}`);
    await record('mar-a', '2026-03-03T10:00:00Z');
    await settleCharges(db, [line], 'APPLIED');
    await settleAdjustment(await adjustmentOf('feb-b'));

    clock.set(new Date('2026-04-02T06:00:00Z'));
    // Rated after March's invoice was issued: not on it.
    await record('mar-after', '2026-03-31T10:00:00Z');
    await publishBill(`inv_mar_${run}`, '2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z', '2026-04-02T00:00:00Z');
    expect(await statuses()).toEqual({ 'feb-a': 'BILLED', 'feb-b': 'BILLED', 'feb-denied': 'RATED', 'feb-late': 'BILLED', 'mar-a': 'BILLED', 'mar-after': 'RATED' });

    const gql = await svc.request(`{ usageRecords(filter: { lineId: "${line}", status: BILLED }) { totalCount } }`);
    expect(gql.errors).toBeUndefined();
    expect(gql.data.usageRecords.totalCount).toBe(4);
  }, 60_000);
});
