/**
 * A prepaid session's units past its grant that the balance paid only in part, whose record is stored REJECTED (rated
 * at the report: here the subscription was ended by mistake before it), then reprocessed once the cause is fixed.
 *
 * The REJECTED record keeps what wallets committed (charge_status APPLIED, amount_charged) and what was left unpaid
 * (unpaid_amount, its trace's `overage`, a charge_outcome row PARTIAL). The reprocess rated it as charged (no
 * ChargeRequest) with the commit's money, but wrote its unpaid_amount null and a new rating trace without `overage`:
 * the lost revenue vanished from the record (GraphQL unpaidAmount null) while its outcome still said PARTIAL. Now the
 * reprocess keeps both, and tells nothing again (the overageunpaid event went out when the units were reported).
 *
 * Real wallets (child process, own schema), NATS and PostgreSQL; the session's requests over NATS.
 */
import { describe, expect, it } from 'vitest';
import { dec, EVENTS } from '@ledgerline/contracts';
import { UPSERT_LINE_CONTEXT, setLine, storedChargeRequests } from './support';
import { onlineCharging } from './session-support';

/** An outgoing call from home to an INTERNATIONAL number on prepaid-payg: 0.0165 EUR/s, per started minute (0.99 EUR). */
const INTERNATIONAL_CALL = { usageType: 'VOICE', calledNumber: '+81312345678' };

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);
const lineId = `lin_ovrp${run}`;
const account = `acc_ovrp${run}`;
const msisdn = `+491527${String(Date.now()).slice(-7)}`;

const REPROCESS = `mutation($i: ReprocessRejectedInput!) { reprocessRejected(input: $i) { rated stillRejected results { id eventId status rejectionCode } } }`;

/** The line's prepaid subscription as subscribers sends it, ending at `endsAt` (null: open-ended), applied at `at`. */
async function subscriptionEnding(endsAt: string | null, at: Date): Promise<void> {
  const res = await oc.svc.request(UPSERT_LINE_CONTEXT, {
    input: {
      lineId, msisdn, billingAccountId: account, status: 'ACTIVE', at: at.toISOString(),
      subscription: { subscriptionId: `sub_${lineId}`, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'plv_payg', planVersionId: 'plv_payg', startsAt: '2026-01-01T00:00:00Z', endsAt },
    },
  });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
}

/** The record as readers see it (charge_outcome first), and its trace's overage. */
async function recordOf(id: string) {
  const { rows: [r] } = await oc.db.query(
    `select r.status, r.rejection_code, coalesce(o.outcome, r.charge_status) as charge_status, coalesce(o.amount_charged, r.amount_charged)::text as charged, r.unpaid_amount::text as unpaid, r.rating
       from usage_record r left join charge_outcome o on o.usage_record_id = r.id where r.id = $1`, [id]);
  const fix = (v: string | null) => (v === null ? null : dec(v).toFixed());
  const trace = r.rating ? (JSON.parse(r.rating) as { overage?: Record<string, unknown>; price?: string }) : {};
  return { status: r.status, rejectionCode: r.rejection_code, chargeStatus: r.charge_status, charged: fix(r.charged), unpaid: fix(r.unpaid), overage: trace.overage ?? null, rated: trace.price !== undefined };
}

async function unpaidEvents(): Promise<number> {
  const { rows } = await oc.db.query<{ payload: string }>(`select payload from outbox where subject = $1`, [EVENTS.usageSessionOverageUnpaid.subject]);
  return rows.filter((r) => (JSON.parse(r.payload) as { data: { lineId?: string } }).data.lineId === lineId).length;
}

describe('a session overage record stored REJECTED, then reprocessed', () => {
  it('keeps its unpaid amount and its trace\'s overage, charged no second time, told once', async () => {
    await oc.wallets.gql(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: account, currency: 'EUR', paymentMode: 'PREPAID' } });
    await oc.wallets.gql(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId: account, amount: { amount: '1.50', currency: 'EUR' }, idempotencyKey: `top-${account}` } });
    await setLine(oc.svc, { lineId, msisdn, account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
    const session = `s_ovrp_${run}`;
    expect(await oc.ask(session, { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    // Mid-call, subscribers' event ends the subscription an hour ago (a wrong date, corrected below).
    await subscriptionEnding(new Date(Date.now() - 3_600_000).toISOString(), new Date());
    const reply = await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '180' });
    expect(reply).toMatchObject({ resultCode: 'SUCCESS' });
    expect(reply.message).toContain('1.485 EUR');
    const { rows: [{ id }] } = await oc.db.query<{ id: string }>(`select id from usage_record where source = 'ocs' and event_id = $1`, [`${session}#1:unreserved`]);
    // 30 s of the 120 s past the grant paid (0.495), 90 s (1.485) not; the record REJECTED, keeping both.
    const overage = { unpaidUnits: '90', paidUnits: '30', amountCharged: '0.495', unpaidAmount: '1.485', reason: 'WALLET_INSUFFICIENT_BALANCE' };
    expect(await recordOf(id)).toMatchObject({ status: 'REJECTED', rejectionCode: 'SUBSCRIPTION_NOT_FOUND', chargeStatus: 'PARTIAL', charged: '0.495', unpaid: '1.485', overage: expect.objectContaining(overage) });
    expect(await unpaidEvents()).toBe(1);

    // The cause is fixed, and the line's rejected records are reprocessed.
    await subscriptionEnding(null, new Date(Date.now() + 1000));
    const reprocessed = await oc.svc.request(REPROCESS, { i: { lineId } });
    expect(reprocessed.errors, JSON.stringify(reprocessed.errors)).toBeUndefined();
    expect(reprocessed.data.reprocessRejected).toMatchObject({ stillRejected: 0 });
    expect(reprocessed.data.reprocessRejected.results.find((r: { id: string }) => r.id === id)).toMatchObject({ status: 'RATED' });

    expect(await recordOf(id)).toEqual({ status: 'RATED', rejectionCode: null, chargeStatus: 'PARTIAL', charged: '0.495', unpaid: '1.485', overage: expect.objectContaining(overage), rated: true });
    expect(await storedChargeRequests(oc.db, 'id = $1', [id]), 'no charge of its own: wallets took what the balance paid').toEqual([]);
    expect(await unpaidEvents(), 'told when the units were reported, not again').toBe(1);
    const read = await oc.svc.request<{ usageRecord: Record<string, unknown> }>(`query($id: ID!) { usageRecord(id: $id) { status chargeStatus unpaidAmount { amount currency } ratingTrace } }`, { id });
    expect(read.errors, JSON.stringify(read.errors)).toBeUndefined();
    expect(read.data!.usageRecord).toMatchObject({ status: 'RATED', chargeStatus: 'PARTIAL', unpaidAmount: { amount: '1.485000', currency: 'EUR' }, ratingTrace: { overage: { unpaidAmount: '1.485' } } });
  });
});
