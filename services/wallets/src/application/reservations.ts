import { Decimal, newId, notFound, badInput } from '@ledgerline/contracts';
import type { ChargingResultCode, WalletReserveReply, WalletReserveRequest, WalletSessionReply } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { decideCharge, fmt, round6, type WalletState } from '../domain/charging';
import { accountId, newTxId, postTransactions, type Entry } from './ledger';
import { BUCKET_SELECT, toBucketState, type BucketRow } from './buckets';
import { walletOf, walletById, type WalletRow } from './wallets';
import { emitBalanceEvents } from './balance-events';

export interface ReservationRow {
  id: string;
  session_id: string;
  request_key: string;
  billing_account_id: string;
  wallet_id: string;
  line_id: string | null;
  unit: string;
  price_per_unit: string;
  requested_units: string;
  granted_units: string;
  units_from_buckets: string;
  bucket_parts: { bucketId: string; units: string }[];
  money_reserved: string;
  used_units: string | null;
  status: 'RESERVED' | 'COMMITTED' | 'RELEASED' | 'EXPIRED';
  expires_at: Date;
  created_at: Date;
  closed_at: Date | null;
}

const DECIMAL = /^\d+(\.\d{1,6})?$/;

function replyOf(r: ReservationRow, currency: string, now: Date): WalletReserveReply {
  const granted = new Decimal(r.granted_units);
  return {
    resultCode: 'SUCCESS',
    reservationId: r.id,
    grantedUnit: { unit: r.unit, units: granted.toFixed(), unitsFromAllowances: new Decimal(r.units_from_buckets).toFixed(), amount: r.money_reserved, currency },
    validityTime: Math.max(0, Math.floor((r.expires_at.getTime() - now.getTime()) / 1000)),
    ...(granted.lessThan(new Decimal(r.requested_units)) ? { finalUnitIndication: { finalUnitAction: 'TERMINATE' as const } } : {}),
  };
}

const fail = (resultCode: ChargingResultCode, code: string, message: string): WalletReserveReply => ({ resultCode, error: { code, message } });

function walletState(w: WalletRow): WalletState {
  return {
    id: w.id,
    billingAccountId: w.billing_account_id,
    currency: w.currency,
    paymentMode: w.payment_mode,
    balance: new Decimal(w.balance),
    unbilled: new Decimal(w.unbilled),
    creditLimit: w.credit_limit === null ? null : new Decimal(w.credit_limit),
    overdraftLimit: new Decimal(w.overdraft_limit),
  };
}

/**
 * Reserve (Nchf: initial/update request units): hold allowance units first, then money, and grant
 * what can be held. Fewer units than asked comes with a final unit indication; none at all is
 * QUOTA_LIMIT_REACHED. Idempotent by `requestId`.
 */
export async function reserve(sql: Sql, req: WalletReserveRequest, now: Date): Promise<WalletReserveReply> {
  if (!req || typeof req.requestId !== 'string' || !req.requestId || typeof req.sessionId !== 'string' || !req.sessionId) return fail('RATING_FAILED', 'INVALID_INPUT', 'requestId and sessionId are required');
  if (!DECIMAL.test(req.requestedUnits ?? '') || new Decimal(req.requestedUnits).lessThanOrEqualTo(0)) return fail('RATING_FAILED', 'AMOUNT_NOT_POSITIVE', 'requestedUnits must be a positive decimal');
  if (!DECIMAL.test(req.pricePerUnit ?? '')) return fail('RATING_FAILED', 'AMOUNT_INVALID', 'pricePerUnit must be a non-negative decimal');
  const wallet = await walletOf(sql, req.billingAccountId, req.currency, true);
  if (!wallet) return fail('USER_UNKNOWN', 'WALLET_NOT_FOUND', `No ${req.currency} wallet for billing account ${req.billingAccountId}`);
  const previous = (await sql.query<ReservationRow>(`select * from reservation where request_key = $1`, [req.requestId]))[0];
  if (previous) return replyOf(previous, wallet.currency, now);
  const bucketRows = req.allowanceIds?.length ? (await sql.query(`select id from bucket where billing_account_id = $1 and status = 'ACTIVE' order by id for update`, [req.billingAccountId]), await sql.query<BucketRow>(`${BUCKET_SELECT} where b.billing_account_id = $1 and b.status = 'ACTIVE'`, [req.billingAccountId])) : [];
  const buckets = bucketRows.map(toBucketState);
  const before = new Map(buckets.map((b) => [b.id, b.remaining]));
  const state = walletState(wallet);
  const requested = new Decimal(req.requestedUnits);
  const d = decideCharge(state, buckets, { lineId: req.lineId ?? null, at: now, units: requested, unit: req.unit, allowanceIds: req.allowanceIds ?? [], pricePerUnit: new Decimal(req.pricePerUnit), allowOverdraft: !!req.allowOverdraft });
  if (d.outcome === 'DENIED') return fail('QUOTA_LIMIT_REACHED', d.reason ?? 'QUOTA_LIMIT_REACHED', 'No allowance or balance left for this service');
  const id = newId('bucket').replace(/^bkt_/, 'rsv_');
  const validity = Math.min(Math.max(req.validitySeconds ?? 300, 1), 86_400);
  const source = wallet.payment_mode === 'PREPAID' ? wallet.id : accountId(wallet.billing_account_id, 'UNBILLED_RECEIVABLE', wallet.currency);
  const entries: Entry[] = [];
  for (const p of d.bucketParts) entries.push({ accountId: p.bucketId, unit: req.unit, amount: p.units.negated() }, { accountId: accountId(req.billingAccountId, 'RESERVED', req.unit), unit: req.unit, amount: p.units });
  if (!d.amount.isZero()) entries.push({ accountId: source, unit: wallet.currency, amount: d.amount.negated() }, { accountId: accountId(req.billingAccountId, 'RESERVED', wallet.currency), unit: wallet.currency, amount: d.amount });
  const txId = newTxId();
  await postTransactions(sql, [{ id: txId, idempotencyKey: `RESERVE:${id}`, kind: 'RESERVE', billingAccountId: req.billingAccountId, reference: req.sessionId, entries }], now);
  const rows = await sql.query<ReservationRow>(
    `insert into reservation (id, session_id, request_key, billing_account_id, wallet_id, line_id, unit, price_per_unit, requested_units, granted_units, units_from_buckets, bucket_parts, money_reserved, status, expires_at, created_at)
     values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,'RESERVED',$14,$15) returning *`,
    [id, req.sessionId, req.requestId, req.billingAccountId, wallet.id, req.lineId ?? null, req.unit, req.pricePerUnit, fmt(requested), fmt(d.units), fmt(d.unitsFromBuckets), JSON.stringify(d.bucketParts.map((p) => ({ bucketId: p.bucketId, units: fmt(p.units) }))), fmt(d.amount), new Date(now.getTime() + validity * 1000), now],
  );
  await emitBalanceEvents(
    sql,
    now,
    wallet.payment_mode === 'PREPAID' && !d.amount.isZero() ? [{ walletId: wallet.id, billingAccountId: wallet.billing_account_id, currency: wallet.currency, paymentMode: wallet.payment_mode, lowBalanceThreshold: wallet.low_balance_threshold === null ? null : new Decimal(wallet.low_balance_threshold), before: new Decimal(wallet.balance), after: state.balance, cause: txId }] : [],
    buckets.filter((b) => !b.remaining.equals(before.get(b.id)!)).map((b) => ({ bucketId: b.id, billingAccountId: b.billingAccountId, allowanceId: b.allowanceId, unit: b.unit, initial: b.initial, notifiedPercent: bucketRows.find((r) => r.id === b.id)!.notified_percent, before: before.get(b.id)!, after: b.remaining })),
  );
  return replyOf(rows[0]!, wallet.currency, now);
}

/**
 * Commit (Nchf: used units): charge what was used (allowance units first, then money) and give
 * the rest back. `usedUnits` 0 is a release; an expired reservation is closed with status EXPIRED.
 * Repeating a commit on a closed reservation answers its final state.
 */
export async function closeReservation(sql: Sql, reservationId: string, usedUnitsText: string, now: Date, closing: 'COMMITTED' | 'RELEASED' | 'EXPIRED'): Promise<WalletSessionReply> {
  if (!DECIMAL.test(usedUnitsText ?? '')) return { resultCode: 'RATING_FAILED', reservationId, error: { code: 'AMOUNT_INVALID', message: 'usedUnits must be a non-negative decimal' } };
  const head = (await sql.query<{ wallet_id: string }>(`select wallet_id from reservation where id = $1`, [reservationId]))[0];
  if (!head) return { resultCode: 'USER_UNKNOWN', reservationId, error: { code: 'RESERVATION_NOT_FOUND', message: `Reservation ${reservationId} does not exist` } };
  const wallet = (await walletById(sql, head.wallet_id, true))!; // wallet first, then reservation: the same lock order as reserve
  const r = (await sql.query<ReservationRow>(`select * from reservation where id = $1 for update`, [reservationId]))[0]!;
  if (r.status !== 'RESERVED') return { resultCode: 'SUCCESS', reservationId, status: r.status, usedUnits: r.used_units ?? '0', amountCharged: r.status === 'COMMITTED' ? undefined : '0' };
  const granted = new Decimal(r.granted_units);
  const used = Decimal.min(new Decimal(usedUnitsText), granted);
  let left = used;
  const entries: Entry[] = [];
  const reservedUnits = accountId(r.billing_account_id, 'RESERVED', r.unit);
  const bucketStatus = new Map((await sql.query<{ id: string; status: string }>(`select id, status from bucket where id = any($1::text[])`, [r.bucket_parts.map((p) => p.bucketId)])).map((b) => [b.id, b.status]));
  for (const p of r.bucket_parts) {
    const units = new Decimal(p.units);
    const take = Decimal.min(left, units);
    left = left.minus(take);
    if (!take.isZero()) entries.push({ accountId: reservedUnits, unit: r.unit, amount: take.negated() }, { accountId: accountId(r.billing_account_id, 'ALLOWANCE_USED', r.unit), unit: r.unit, amount: take });
    const back = units.minus(take);
    if (!back.isZero()) {
      const target = bucketStatus.get(p.bucketId) === 'ACTIVE' ? p.bucketId : accountId(r.billing_account_id, 'ALLOWANCE_EXPIRED', r.unit);
      entries.push({ accountId: reservedUnits, unit: r.unit, amount: back.negated() }, { accountId: target, unit: r.unit, amount: back });
    }
  }
  const reserved = new Decimal(r.money_reserved);
  const charged = Decimal.min(round6(left.times(new Decimal(r.price_per_unit))), reserved);
  const reservedMoney = accountId(r.billing_account_id, 'RESERVED', wallet.currency);
  const source = wallet.payment_mode === 'PREPAID' ? wallet.id : accountId(r.billing_account_id, 'UNBILLED_RECEIVABLE', wallet.currency);
  if (!charged.isZero()) entries.push({ accountId: reservedMoney, unit: wallet.currency, amount: charged.negated() }, { accountId: accountId(r.billing_account_id, 'REVENUE', wallet.currency), unit: wallet.currency, amount: charged });
  const refund = reserved.minus(charged);
  if (!refund.isZero()) entries.push({ accountId: reservedMoney, unit: wallet.currency, amount: refund.negated() }, { accountId: source, unit: wallet.currency, amount: refund });
  await postTransactions(sql, [{ idempotencyKey: `CLOSE:${r.id}`, kind: closing === 'COMMITTED' ? 'COMMIT' : closing, billingAccountId: r.billing_account_id, reference: r.session_id, outcome: { used: fmt(used), charged: fmt(charged) }, entries }], now);
  await sql.query(`update reservation set status = $2, used_units = $3, closed_at = $4 where id = $1`, [r.id, closing, fmt(used), now]);
  return { resultCode: 'SUCCESS', reservationId, status: closing, usedUnits: used.toFixed(), amountCharged: fmt(charged) };
}

/** Stale reservations (past their validity) give everything back. Time is passed in. */
export async function expireReservations(sql: Sql, now: Date, limit = 500): Promise<number> {
  const due = await sql.query<{ id: string }>(`select id from reservation where status = 'RESERVED' and expires_at <= $1 order by expires_at limit $2`, [now, limit]);
  for (const r of due) await closeReservation(sql, r.id, '0', now, 'EXPIRED');
  return due.length;
}

export async function reservationById(sql: Sql, id: string): Promise<ReservationRow | null> {
  return (await sql.query<ReservationRow>(`select * from reservation where id = $1`, [id]))[0] ?? null;
}

export function requireReservationInput(id: string): void {
  if (!id) throw badInput('input.reservationId', 'reservationId is required');
}
export { notFound };
