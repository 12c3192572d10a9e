/**
 * A re-rate of a period holding a prepaid session's units past its grant that the balance paid in part (PARTIAL) or
 * not at all (DENIED): `unpaid_amount`, `ratingTrace.overage` (charging-session.ts, chargePastGrant).
 *
 * The rule is the one the re-rate keeps for every charge wallets cut short (rerate-period.ts, grantedUnitsOf): only
 * the units the ledger granted (charge_outcome.granted_units) are priced and adjusted; the refused units were never
 * charged, so no correction collects them (dearer) or gives them back (cheaper), and a DENIED record is never adjusted.
 * What the record says is unpaid follows the price the re-rate puts on the record (PARTIAL and DENIED alike): the refused units at that price,
 * so price = what the ledger holds + unpaid stays true; the trace's `overage` keeps the figures of the report, and
 * `previous.unpaidAmount` the amount before the re-rate.
 *
 * Real wallets (child process, own schema), NATS and PostgreSQL; the session's requests over NATS.
 */
import { describe, expect, it } from 'vitest';
import { dec, type ChargeRequest, type ChargeResult } from '@ledgerline/contracts';
import { correctedPlan, setLine, storedChargeRequests } from './support';
import { onlineCharging } from './session-support';
import { usageRuntimeOf } from '../src/usage-runtime';
import { applyChargeResults } from '../src/application/apply-charge-result';

/** An outgoing call from home to an INTERNATIONAL number on prepaid-payg: 0.0165 EUR/s, per started minute (0.99 EUR). */
const INTERNATIONAL_CALL = { usageType: 'VOICE', calledNumber: '+81312345678' };
/** Catalog corrections of that price: 0.0110 EUR/s (0.66 a minute) and 0.0330 EUR/s (1.98 a minute). */
const cheaper = correctedPlan('prepaid-payg.json', 'voice-international', (p) => (p.pricePerUnit = '0.0110'));
const dearer = correctedPlan('prepaid-payg.json', 'voice-international', (p) => (p.pricePerUnit = '0.0330'));

const oc = onlineCharging({ plv_payg_low: cheaper, plv_payg_high: dearer });
const run = Math.random().toString(36).slice(2, 8);
let lines = 0;

const RERATE = `mutation($i: RerateInput!) { rerate(input: $i) { recordsRerated adjustments { usageRecordId chargeId previousPrice newPrice } } }`;
/** The month the sessions run in (records are reported now). */
const month = () => new Date().toISOString().slice(0, 7);

/** A prepaid line on plv_payg (no allowances, no overdraft) whose wallet holds `balance` EUR. */
async function prepaidLine(balance: string): Promise<{ lineId: string; account: string }> {
  const n = ++lines;
  const lineId = `lin_ovrr${n}${run}`;
  const account = `acc_ovrr${n}${run}`;
  await oc.wallets.gql(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: account, currency: 'EUR', paymentMode: 'PREPAID' } });
  await oc.wallets.gql(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId: account, amount: { amount: balance, currency: 'EUR' }, idempotencyKey: `top-${account}` } });
  await setLine(oc.svc, { lineId, msisdn: `+491529${n}${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
  return { lineId, account };
}

/** A call of 180 s on a 60 s grant, ended by a TERMINATE: the 120 s past the grant are charged within the report. */
async function callPastGrant(session: string, lineId: string): Promise<{ overageId: string; committedId: string }> {
  expect(await oc.ask(session, { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
  expect(await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '180' })).toMatchObject({ resultCode: 'SUCCESS' });
  const { rows } = await oc.db.query<{ id: string; event_id: string }>(`select id, event_id from usage_record where line_id = $1 and source = 'ocs'`, [lineId]);
  const overageId = rows.find((r) => r.event_id.endsWith(':unreserved'))!.id;
  const committedId = rows.find((r) => !r.event_id.endsWith(':unreserved'))!.id;
  return { overageId, committedId };
}

/** The record as readers see it (charge_outcome first), its unpaid amount and the parts of its trace this is about. */
async function recordOf(id: string) {
  const { rows: [r] } = await oc.db.query(
    `select r.price::text as price, coalesce(o.outcome, r.charge_status) as status, coalesce(o.amount_charged, r.amount_charged)::text as charged, r.unpaid_amount::text as unpaid, r.rating
       from usage_record r left join charge_outcome o on o.usage_record_id = r.id where r.id = $1`, [id]);
  const trace = JSON.parse(r.rating) as { overage?: { unpaidAmount?: string }; previous?: { unpaidAmount?: string } };
  const fix = (v: string | null | undefined) => (v == null ? null : dec(v).toFixed());
  return { price: fix(r.price), status: r.status, charged: fix(r.charged), unpaid: fix(r.unpaid), overageUnpaid: fix(trace.overage?.unpaidAmount), previousUnpaid: fix(trace.previous?.unpaidAmount) };
}

async function rerate(account: string, planVersionId?: string): Promise<{ recordsRerated: number; adjustments: { usageRecordId: string; chargeId: string; previousPrice: string; newPrice: string }[] }> {
  const res = await oc.svc.request(RERATE, { i: { billingAccountId: account, period: month(), ...(planVersionId ? { planVersionId } : {}) } });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.rerate;
}

/** Each adjustment's (usage record → money delta) as the ChargeRequest sent to wallets says it. */
async function deltasOf(adjustments: { usageRecordId: string; chargeId: string }[]): Promise<Record<string, string>> {
  const ids = adjustments.map((a) => a.chargeId);
  const requests = (await storedChargeRequests(oc.db, `payload like '%"kind":"ADJUSTMENT"%'`)).filter((c) => ids.includes(c.chargeId));
  return Object.fromEntries(requests.map((c) => [c.usageRecordId!, dec(c.amount!).toFixed()]));
}

/** Settles the adjustments as wallets applies them in full (the usage service here runs no `charges` consumer). */
async function settle(adjustments: { chargeId: string }[]): Promise<void> {
  const ids = adjustments.map((a) => a.chargeId);
  const requests = (await storedChargeRequests(oc.db, `payload like '%"kind":"ADJUSTMENT"%'`)).filter((c) => ids.includes(c.chargeId));
  const results: ChargeResult[] = requests.map((c: ChargeRequest) => ({
    chargeId: c.chargeId, outcome: 'APPLIED', billingAccountId: c.billingAccountId, lineId: c.lineId, paymentMode: c.paymentMode, usageType: c.usageType, occurredAt: c.occurredAt,
    units: c.units, unit: c.unit, unitsFromAllowances: '0', amountCharged: c.amount!, currency: c.currency,
  }));
  await applyChargeResults(usageRuntimeOf(oc.svc.runtime).sql, results);
}

describe('a re-rate of a period holding a session overage paid in part (PARTIAL)', () => {
  // 1.50 EUR: the grant's minute (0.99), then 30 s of the 120 s past it (0.495); 90 s (1.485) unpaid.
  it('with the same catalog: no adjustment, the record as it was', async () => {
    const { lineId, account } = await prepaidLine('1.50');
    const { overageId } = await callPastGrant(`s_ovrr_same_${run}`, lineId);
    const before = await recordOf(overageId);
    expect(before).toEqual({ price: '1.98', status: 'PARTIAL', charged: '0.495', unpaid: '1.485', overageUnpaid: '1.485', previousUnpaid: null });
    expect(await rerate(account)).toEqual({ recordsRerated: 0, adjustments: [] });
    expect(await recordOf(overageId)).toEqual(before);
  });

  it('cheaper: gives back the difference on the 30 s paid only (never more than was charged); the unpaid 90 s are restated at the new price', async () => {
    const { lineId, account } = await prepaidLine('1.50');
    const { overageId, committedId } = await callPastGrant(`s_ovrr_low_${run}`, lineId);
    const low = await rerate(account, 'plv_payg_low');
    // 120 s at 0.011 = 1.32; the 30 s paid: 0.33 instead of 0.495 (a 0.165 credit). The grant's minute: 0.66 instead of 0.99.
    expect(await deltasOf(low.adjustments)).toEqual({ [overageId]: '-0.165', [committedId]: '-0.33' });
    expect(low.adjustments.find((a) => a.usageRecordId === overageId)).toMatchObject({ previousPrice: '0.495', newPrice: '0.33' });
    expect(await recordOf(overageId)).toMatchObject({ price: '1.32', status: 'PARTIAL', unpaid: '0.99', overageUnpaid: '1.485', previousUnpaid: '1.485' });
    await settle(low.adjustments);
    expect(await recordOf(overageId)).toMatchObject({ charged: '0.33', unpaid: '0.99' });
    // The correction stays in force (a plain re-rate keeps it): nothing more to adjust, nothing restated again.
    expect(await rerate(account)).toEqual({ recordsRerated: 0, adjustments: [] });
    expect(await rerate(account, 'plv_payg_low')).toEqual({ recordsRerated: 0, adjustments: [] });
    expect(await recordOf(overageId)).toMatchObject({ price: '1.32', charged: '0.33', unpaid: '0.99' });
  });

  it('dearer: collects the difference on the 30 s paid only, not the unpaid 90 s as if new; those are restated unpaid at the new price', async () => {
    const { lineId, account } = await prepaidLine('1.50');
    const { overageId, committedId } = await callPastGrant(`s_ovrr_high_${run}`, lineId);
    const high = await rerate(account, 'plv_payg_high');
    // 120 s at 0.033 = 3.96; the 30 s paid: 0.99 instead of 0.495. The grant's minute: 1.98 instead of 0.99.
    expect(await deltasOf(high.adjustments)).toEqual({ [overageId]: '0.495', [committedId]: '0.99' });
    expect(await recordOf(overageId)).toMatchObject({ price: '3.96', status: 'PARTIAL', unpaid: '2.97', overageUnpaid: '1.485', previousUnpaid: '1.485' });
    await settle(high.adjustments);
    // Back to the catalog's price: the same amounts back, nothing about the unpaid units; restated at 0.0165 again.
    const back = await rerate(account, 'plv_payg');
    expect(await deltasOf(back.adjustments)).toEqual({ [overageId]: '-0.495', [committedId]: '-0.99' });
    expect(await recordOf(overageId)).toMatchObject({ price: '1.98', unpaid: '1.485', previousUnpaid: '2.97' });
  });
});

describe('a re-rate of a period holding a session overage the balance could not pay at all (DENIED)', () => {
  it('adjusts nothing (nothing was charged) but restates the unpaid 120 s at each new price; the paid grant is adjusted as any record', async () => {
    const { lineId, account } = await prepaidLine('0.99');
    const { overageId, committedId } = await callPastGrant(`s_ovrr_none_${run}`, lineId);
    const before = await recordOf(overageId);
    expect(before).toMatchObject({ price: '1.98', status: 'DENIED', charged: '0', unpaid: '1.98', overageUnpaid: '1.98', previousUnpaid: null });
    expect(await rerate(account)).toEqual({ recordsRerated: 0, adjustments: [] });
    expect(await recordOf(overageId)).toEqual(before);
    // Cheaper: 120 s at 0.011 = 1.32 unpaid (it stated 1.98, the old price); no adjustment for it, still DENIED, nothing charged.
    const low = await rerate(account, 'plv_payg_low');
    expect(await deltasOf(low.adjustments)).toEqual({ [committedId]: '-0.33' });
    expect(await recordOf(overageId)).toEqual({ price: '1.32', status: 'DENIED', charged: '0', unpaid: '1.32', overageUnpaid: '1.98', previousUnpaid: '1.98' });
    await settle(low.adjustments);
    // The correction stays in force: nothing restated again.
    expect(await rerate(account, 'plv_payg_low')).toEqual({ recordsRerated: 0, adjustments: [] });
    // Dearer: 3.96 unpaid, still nothing collected for it.
    const high = await rerate(account, 'plv_payg_high');
    expect(await deltasOf(high.adjustments)).toEqual({ [committedId]: '1.32' });
    expect(await recordOf(overageId)).toEqual({ price: '3.96', status: 'DENIED', charged: '0', unpaid: '3.96', overageUnpaid: '1.98', previousUnpaid: '1.32' });
  });
});
