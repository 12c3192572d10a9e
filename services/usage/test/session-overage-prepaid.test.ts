/**
 * Units an online session reports past its grant (the network went on after the grant ran out: 3GPP Gy / Ro
 * accepts such a report) on a PREPAID wallet. Wallets' commit charges at most what the reservation holds
 * (closeMany: used units cut to the grant), so the units past it were charged as usage: a ChargeRequest over
 * JetStream, applied some time after the report was answered. Meanwhile the same UPDATE had reserved the next
 * grant from the balance those units should have paid for: the network was granted more (SUCCESS) while
 * what it had used went unpaid (wallets cut the late charge to PARTIAL, or DENIED it), and nothing said so -
 * no unpaid amount on the record or its rating trace, no metric, no event.
 *
 * Now a prepaid session's units past its grant are charged within the report, before anything more is
 * reserved: held and committed in wallets at the session's terms (request id `<session>#<n>:unreserved`), so
 * the balance pays what it can, never below its floor. What it cannot pay is recorded: the record's
 * unpaid_amount, its charge outcome PARTIAL / DENIED (WALLET_INSUFFICIENT_BALANCE), its rating trace's
 * `overage`, `ledgerline_usage_session_overage_unpaid_total` and a `billing.usage.session.overageunpaid` event;
 * an UPDATE is answered QUOTA_LIMIT_REACHED with a final unit indication (nothing more granted). A POSTPAID
 * session's units past its grant are billed as before (a ChargeRequest).
 *
 * Real wallets (child process, own schema), NATS and PostgreSQL; requests over NATS as a network element sends them.
 */
import { describe, expect, it } from 'vitest';
import { dec, EVENTS } from '@ledgerline/contracts';
import { setLine, waitFor } from './support';
import { onlineCharging } from './session-support';
import { usageRuntimeOf } from '../src/usage-runtime';

/** An outgoing call from home to an INTERNATIONAL number on prepaid-payg: 0.0165 EUR/s, per started minute (0.99 EUR). */
const INTERNATIONAL_CALL = { usageType: 'VOICE', calledNumber: '+81312345678' };

const oc = onlineCharging();
const run = Math.random().toString(36).slice(2, 8);
let lines = 0;

/** A prepaid line on plv_payg (no allowances, no overdraft) whose wallet holds `balance` EUR; its balance and held money as wallets has them. */
async function prepaidLine(balance: string): Promise<{ lineId: string; account: string; wallet: () => Promise<{ balance: string; reserved: string }> }> {
  const n = ++lines;
  const lineId = `lin_ovr${n}${run}`;
  const account = `acc_ovr${n}${run}`;
  const opened = await oc.wallets.gql<{ openWallet: { wallet: { id: string } } }>(`mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, { i: { billingAccountId: account, currency: 'EUR', paymentMode: 'PREPAID' } });
  await oc.wallets.gql(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId: account, amount: { amount: balance, currency: 'EUR' }, idempotencyKey: `top-${account}` } });
  await setLine(oc.svc, { lineId, msisdn: `+491528${n}${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_payg', paymentMode: 'PREPAID' });
  const walletId = opened.openWallet.wallet.id;
  return {
    lineId,
    account,
    wallet: async () => {
      const { wallet } = await oc.wallets.gql<{ wallet: { balance: { amount: string }; reserved: { amount: string } } }>(`query($id: ID!) { wallet(id: $id) { balance { amount } reserved { amount } } }`, { id: walletId });
      return { balance: dec(wallet.balance.amount).toFixed(), reserved: dec(wallet.reserved.amount).toFixed() };
    },
  };
}

/** What the record of a session's units past its grant says of its charge, as readers see it (charge_outcome first). */
async function overageRecord(eventId: string) {
  const { rows: [r] } = await oc.db.query(
    `select r.quantity::text as quantity, coalesce(o.outcome, r.charge_status) as status, coalesce(o.amount_charged, r.amount_charged)::text as charged,
            coalesce(o.reason, r.charge_reason) as reason, r.unpaid_amount::text as unpaid, r.charge is not null as charge_request, r.rating
       from usage_record r left join charge_outcome o on o.usage_record_id = r.id where r.source = 'ocs' and r.event_id = $1`, [eventId]);
  if (!r) return undefined;
  const trace = JSON.parse(r.rating) as { overage?: Record<string, unknown> };
  const fix = (v: string | null) => (v === null ? null : dec(v).toFixed());
  return { quantity: fix(r.quantity), status: r.status, charged: fix(r.charged), reason: r.reason, unpaid: fix(r.unpaid), chargeRequest: r.charge_request, overage: trace.overage ?? null };
}

/** The overage-unpaid events written for the session's records (the outbox), their data. */
async function unpaidEvents(sessionId: string): Promise<Record<string, unknown>[]> {
  const { rows } = await oc.db.query<{ payload: string }>(`select payload from outbox where subject = $1 order by created_at`, [EVENTS.usageSessionOverageUnpaid.subject]);
  return rows.map((r) => (JSON.parse(r.payload) as { data: Record<string, unknown> }).data).filter((d) => d.sessionId === sessionId);
}

/**
 * Runs `body` while the charge stream lags (ChargeRequests reach wallets `ms` later: a JetStream backlog, wallets'
 * charge consumer behind or restarting), as it does under load; the session's own requests to wallets do not wait.
 */
async function withChargeStreamLag<T>(ms: number, body: () => Promise<T>): Promise<T> {
  const deps = (usageRuntimeOf(oc.svc.runtime).pipeline as unknown as { deps: { publishCharges?: (c: { id: string; payload: string }[]) => Promise<void> } }).deps;
  const publish = deps.publishCharges!;
  deps.publishCharges = async (charges) => {
    setTimeout(() => void publish(charges).catch(() => undefined), ms);
  };
  try {
    return await body();
  } finally {
    deps.publishCharges = publish;
  }
}

async function unpaidCount(): Promise<number> {
  const metric = await oc.svc.runtime.metrics.getSingleMetric('ledgerline_usage_session_overage_unpaid_total')?.get();
  return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

describe('a prepaid session reports units past its grant', () => {
  it('UPDATE: the units past the grant are paid before anything more is granted (3.00 EUR: 60 s granted, 180 s used)', async () => {
    const { lineId, wallet } = await prepaidLine('3.00');
    const session = `s_ovr_paid_${run}`;
    expect(await oc.ask(session, { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '180', requestedUnits: '60' };
    const reply = await withChargeStreamLag(1000, () => oc.ask(session, update));
    // 180 s = three minutes (2.97 EUR): the grant's 0.99 and 1.98 for the two minutes past it. 0.03 EUR is left:
    // not a minute more. (Before: the next minute was held from the 2.01 left and granted, SUCCESS, and the 120 s
    // past the grant were charged later from what the hold left: PARTIAL.)
    expect(reply).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', grantedUnit: null, finalUnitIndication: true });
    expect(await wallet(), 'as soon as the report is answered').toEqual({ balance: '0.03', reserved: '0' });
    expect(await oc.records(session)).toEqual({ [`${session}#1`]: '60', [`${session}#1:unreserved`]: '120' });
    expect(await overageRecord(`${session}#1:unreserved`)).toMatchObject({ quantity: '120', status: 'APPLIED', charged: '1.98', unpaid: null, chargeRequest: false, overage: null });
    expect(await unpaidEvents(session)).toEqual([]);
    expect(await oc.ask(session, update), 'a retransmission').toEqual(reply);
    expect(await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await wallet()).toEqual({ balance: '0.03', reserved: '0' });
  });

  it('UPDATE past what the balance pays: charged down to its floor, the rest recorded unpaid, the network told to end (1.50 EUR)', async () => {
    const { lineId, account, wallet } = await prepaidLine('1.50');
    const session = `s_ovr_short_${run}`;
    const counted = await unpaidCount();
    expect(await oc.ask(session, { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    const update = { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '180', requestedUnits: '60' };
    const reply = await oc.ask(session, update);
    expect(reply).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', grantedUnit: null, validityTime: null, finalUnitIndication: true, unpaidAmount: { amount: '1.485', currency: 'EUR' } });
    expect(reply.message).toContain('1.485 EUR');
    // The grant's minute (0.99), then what the 0.51 left pays of the two minutes past it: 30 s (0.495), to 0.015.
    expect(await wallet(), 'as soon as the report is answered').toEqual({ balance: '0.015', reserved: '0' });
    const overage = { sessionId: session, operation: 'UPDATE', invocationSequenceNumber: 1, unitsPastGrant: '120', chargeableUnits: '120', paidUnits: '30', unpaidUnits: '90', amountCharged: '0.495', unpaidAmount: '1.485', currency: 'EUR', reason: 'WALLET_INSUFFICIENT_BALANCE' };
    expect(await overageRecord(`${session}#1:unreserved`)).toEqual({
      quantity: '120', status: 'PARTIAL', charged: '0.495', reason: 'WALLET_INSUFFICIENT_BALANCE', unpaid: '1.485', chargeRequest: false,
      overage: { unit: 'SECOND', ...overage },
    });
    const events = await unpaidEvents(session);
    expect(events).toEqual([expect.objectContaining({ ...overage, partnerId: null, billingAccountId: account, lineId, usageType: 'VOICE', unit: 'SECOND', usageRecordId: expect.any(String) })]);
    // What staff read of the record (GraphQL).
    const read = await oc.svc.request<{ usageRecord: Record<string, unknown> }>(`query($id: ID!) { usageRecord(id: $id) { chargeStatus chargeReason amountCharged { amount currency } unpaidAmount { amount currency } ratingTrace } }`, { id: events[0]!.usageRecordId });
    expect(read.errors, JSON.stringify(read.errors)).toBeUndefined();
    expect(read.data!.usageRecord).toMatchObject({ chargeStatus: 'PARTIAL', chargeReason: 'WALLET_INSUFFICIENT_BALANCE', amountCharged: { amount: '0.495000', currency: 'EUR' }, unpaidAmount: { amount: '1.485000', currency: 'EUR' }, ratingTrace: { overage: { unpaidAmount: '1.485' } } });
    expect(await unpaidCount()).toBe(counted + 1);

    // A retransmission: the same answer, nothing charged or counted again.
    expect(await oc.ask(session, update)).toEqual(reply);
    expect(await wallet()).toEqual({ balance: '0.015', reserved: '0' });
    expect(await unpaidEvents(session)).toHaveLength(1);
    expect(await unpaidCount()).toBe(counted + 1);
    expect(await oc.reservations(session)).toEqual({ [`${session}#0`]: 'COMMITTED 60', [`${session}#1:unreserved`]: 'COMMITTED 30' });

    expect(await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await wallet()).toEqual({ balance: '0.015', reserved: '0' });
  });

  it('TERMINATE past what the balance pays: charged down to its floor, the rest recorded unpaid (1.50 EUR)', async () => {
    const { lineId, wallet } = await prepaidLine('1.50');
    const session = `s_ovr_term_${run}`;
    const counted = await unpaidCount();
    expect(await oc.ask(session, { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    const terminate = { operation: 'TERMINATE', invocationSequenceNumber: 1, usedUnits: '180' };
    const reply = await oc.ask(session, terminate);
    expect(reply).toMatchObject({ resultCode: 'SUCCESS', finalUnitIndication: true });
    expect(reply.message).toContain('1.485 EUR');
    expect(await wallet()).toEqual({ balance: '0.015', reserved: '0' });
    expect(await oc.records(session)).toEqual({ [`${session}#1:unreserved`]: '120' });
    expect(await overageRecord(`${session}#1:unreserved`)).toMatchObject({ status: 'PARTIAL', charged: '0.495', unpaid: '1.485', reason: 'WALLET_INSUFFICIENT_BALANCE' });
    expect(await unpaidEvents(session)).toHaveLength(1);
    expect(await unpaidCount()).toBe(counted + 1);
    expect(await oc.ask(session, terminate), 'a retransmission').toEqual(reply);
    expect(await wallet()).toEqual({ balance: '0.015', reserved: '0' });
  });

  it('nothing left at all: the units past the grant are DENIED and recorded unpaid in full (0.99 EUR)', async () => {
    const { lineId, wallet } = await prepaidLine('0.99');
    const session = `s_ovr_none_${run}`;
    expect(await oc.ask(session, { operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60' });
    const reply = await oc.ask(session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '90', requestedUnits: '60' });
    expect(reply).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', grantedUnit: null, finalUnitIndication: true });
    expect(await wallet()).toEqual({ balance: '0', reserved: '0' });
    expect(await overageRecord(`${session}#1:unreserved`)).toMatchObject({ quantity: '30', status: 'DENIED', charged: '0', unpaid: '0.99', reason: 'WALLET_INSUFFICIENT_BALANCE' });
    expect(await oc.reservations(session)).toEqual({ [`${session}#0`]: 'COMMITTED 60' });
  });
});

describe('over GraphQL', () => {
  const SESSION = `mutation($i: ChargingSessionInput!) { chargingSession(input: $i) { sessionId resultCode grantedUnit finalUnitIndication usageRecordId message unpaidAmount { amount currency } } }`;
  const ask = async (i: Record<string, unknown>) => {
    const res = await oc.svc.request<{ chargingSession: Record<string, unknown> }>(SESSION, { i });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    return res.data!.chargingSession;
  };

  it('the caller is told what units past the grant left unpaid, as NATS callers are (message, unpaidAmount)', async () => {
    const { lineId } = await prepaidLine('1.50');
    const sessionId = `s_ovr_gql_${run}`;
    expect(await ask({ sessionId, operation: 'RESERVE', lineId, ...INTERNATIONAL_CALL, requestedUnits: '60' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '60', message: null, unpaidAmount: null });
    const update = { sessionId, operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '180', requestedUnits: '60' };
    const reply = await ask(update);
    expect(reply).toMatchObject({ resultCode: 'QUOTA_LIMIT_REACHED', grantedUnit: null, finalUnitIndication: true, unpaidAmount: { amount: '1.485', currency: 'EUR' } });
    expect(reply.message).toContain('1.485 EUR unpaid');
    expect(await ask(update), 'a retransmission: the stored reply').toEqual(reply);
    expect(await ask({ sessionId, operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS', message: null, unpaidAmount: null });
    // A refusal's cause reaches a GraphQL caller too (it was NATS-only).
    expect(await ask({ sessionId: `s_ovr_gql_none_${run}`, operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '1' })).toMatchObject({ resultCode: 'UNKNOWN_SESSION', message: expect.stringContaining('no session') });
  });
});

describe('a postpaid session reports units past its grant', () => {
  it('is billed in full as usage, as before (a ChargeRequest; nothing unpaid, the next units granted)', async () => {
    const lineId = `lin_ovr_post${run}`;
    const account = `acc_ovr_post${run}`;
    const walletId = await oc.wallets.postpaidWallet(account, lineId);
    await setLine(oc.svc, { lineId, msisdn: `+4915179${String(Date.now()).slice(-6)}`, account, planVersionId: 'plv_postpaid', paymentMode: 'POSTPAID' });
    const session = `s_ovr_post_${run}`;
    // Data roaming in WORLD1 on postpaid-20gb: 0.49 EUR/MB, no allowance.
    expect(await oc.ask(session, { operation: 'RESERVE', lineId, usageType: 'DATA', roamingCountry: 'US', requestedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await oc.ask(session, { operation: 'UPDATE', invocationSequenceNumber: 1, usedUnits: '30', requestedUnits: '10' })).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: '10' });
    expect(await oc.ask(session, { operation: 'TERMINATE', invocationSequenceNumber: 2, usedUnits: '0' })).toMatchObject({ resultCode: 'SUCCESS' });
    expect(await overageRecord(`${session}#1:unreserved`)).toMatchObject({ quantity: '20', status: 'PENDING', unpaid: null, chargeRequest: true, overage: null });
    expect(await oc.reservations(session)).toEqual({ [`${session}#0`]: 'COMMITTED 10', [`${session}#1`]: 'COMMITTED 0' });
    // 10 MB committed (4.90) and the 20 MB past the grant billed through their ChargeRequest (9.80).
    await waitFor(async () => dec(await oc.wallets.unbilledOf(walletId)).eq('14.7') || undefined, 20_000, 'the 20 MB past the grant billed').catch(() => undefined);
    expect(dec(await oc.wallets.unbilledOf(walletId)).toFixed()).toBe('14.7');
    expect(await unpaidEvents(session)).toEqual([]);
  });
});
