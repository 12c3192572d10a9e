// Four eyes on goodwill (contracts' approval-policy.ts, LEDGERLINE_APPROVAL_LIMITS): an AGENT's
// adjustBalance above the approval limit of the wallet's currency (a credit or a debit, by its size)
// moves nothing; it becomes a PENDING balance_adjustment_request holding the exact input, answered
// instead of the adjustment. A supervisor (ADMIN, or an AGENT with scope billing:approve) who is not
// the requester approves it (adjustBalance runs once, in the approval's transaction, with that input
// and its own idempotency key, as the requester: the adjustment's agent is who asked) or rejects it.
// Supervisors and SYSTEM adjust at once at any amount.
//
// No request waits for ever: one not decided within LEDGERLINE_APPROVAL_TTL_HOURS can no longer be
// approved (APPROVAL_EXPIRED; the wallet jobs mark it EXPIRED), and one whose adjustment is refused
// with a coded error when approved ends FAILED with that code (a transient error leaves it PENDING).
//
// The daily limit (LEDGERLINE_APPROVAL_DAILY_LIMITS): what the agent adjusted alone in the last 24 h
// (balance_adjustment by its agent, credits and debits by their size, less those a supervisor
// approved), plus this adjustment, must stay within it; past it the adjustment becomes a request
// like one above the per-operation limit, its reason saying so. The sum is read under a transaction
// lock on (agent, currency), so two concurrent adjustments of one agent cannot both pass on it.
import { Decimal, approvalDailyWindowStart, dailyLimitExceeded, badInput, conflict, decodeCursor, approvalActor, approvalExpired, approvalExpiresAt, approvalFailure, isApprovalExpired, isApprover, minorUnits, needsApproval, newId, notFound, pageSize, requireApprover, toConnection, type ApprovalLimits, type Caller } from '@ledgerline/contracts';
import { eventRow, insertOutbox, type Db, type Sql } from '../persistence/sql';
import { findCallerTransaction, lockIdempotencyKey, requestHash, scopedCallerKey } from './ledger';
import { walletById } from './wallets';
import { adjustBalance, type AdjustmentRow } from './adjust-balance';

export type RequestStatus = 'PENDING' | 'APPROVED' | 'REJECTED' | 'EXPIRED' | 'FAILED';

export interface AdjustmentRequestRow {
  id: string;
  wallet_id: string;
  billing_account_id: string;
  amount: string;
  currency: string;
  requested_by: string;
  requested_role: string;
  reason: string;
  input: AdjustInput | string;
  idempotency_key: string;
  request_hash: string;
  status: RequestStatus;
  decided_by: string | null;
  decision_note: string | null;
  adjustment_id: string | null;
  failure_code: string | null;
  failure_reason: string | null;
  created_at: Date;
  decided_at: Date | null;
}

export interface AdjustInput {
  walletId: string;
  amount: { amount: string; currency: string };
  reason: string;
  idempotencyKey: string;
}

const inputOf = (row: AdjustmentRequestRow): AdjustInput => (typeof row.input === 'string' ? JSON.parse(row.input) : row.input) as AdjustInput;

/**
 * In adjustBalance's transaction, before it: the PENDING request for an AGENT above the limit or past
 * the daily limit (the one this key made already: same input answers it, other input
 * IDEMPOTENCY_KEY_REUSED), or null (go on: not limited, within the limits, the key was used already,
 * or input adjustBalance refuses itself). Locks as adjustBalance does: the wallet row, then the key;
 * then the agent's daily lock.
 */
export async function gateAdjustment(sql: Sql, limits: ApprovalLimits, daily: ApprovalLimits, c: AdjustInput & { caller: Caller; now: Date }): Promise<AdjustmentRequestRow | null> {
  if (c.caller.role !== 'AGENT' || isApprover(c.caller)) return null;
  if (!c.idempotencyKey || !/^-?\d+(\.\d{1,6})?$/.test(c.amount?.amount ?? '') || !c.reason || c.reason.trim().length < 3) return null;
  const amount = new Decimal(c.amount.amount);
  if (amount.isZero()) return null;
  const wallet = await walletById(sql, c.walletId);
  if (!wallet || wallet.currency !== c.amount.currency || amount.decimalPlaces() > minorUnits(wallet.currency)) return null;
  if (wallet.settled_at) return null; // adjustBalance refuses it (WALLET_SETTLED): no request to approve
  await walletById(sql, c.walletId, true);
  await lockIdempotencyKey(sql, scopedCallerKey('ADJUST', wallet.billing_account_id, c.idempotencyKey));
  if (await findCallerTransaction(sql, 'ADJUST', wallet.billing_account_id, c.idempotencyKey)) return null; // made already: adjustBalance replays it
  const why = needsApproval(limits, c.caller, amount, wallet.currency) ? '' : await overDailyLimit(sql, daily, c.caller, amount, wallet.currency, c.now);
  const input: AdjustInput = { walletId: c.walletId, amount: { amount: c.amount.amount, currency: c.amount.currency }, reason: c.reason, idempotencyKey: c.idempotencyKey };
  const hash = requestHash(input);
  // The key is the account's, as adjustBalance's: another account's request under it is not this one.
  const [existing] = await sql.query<AdjustmentRequestRow>(`select * from balance_adjustment_request where billing_account_id = $1 and idempotency_key = $2 order by created_at desc limit 1`, [wallet.billing_account_id, c.idempotencyKey]);
  // Within both limits, a key still waiting for a decision answers that request (also once the day has room again).
  if (why === null && existing?.status !== 'PENDING') return null;
  if (existing) {
    if (existing.request_hash === hash) return existing;
    throw conflict('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for a different request; use a new key for a new request', { field: 'input.idempotencyKey' });
  }
  const reason = why ? `${why}. ${c.reason.trim()}` : c.reason.trim();
  const id = newId('balanceAdjustmentRequest');
  return announce(sql, 'balanceAdjustmentRequested', c.now, (await sql.query<AdjustmentRequestRow>(
    `insert into balance_adjustment_request (id, wallet_id, billing_account_id, amount, currency, requested_by, requested_role, reason, input, idempotency_key, request_hash, status, created_at)
     values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,'PENDING',$12) returning *`,
    [id, wallet.id, wallet.billing_account_id, amount.toFixed(), wallet.currency, approvalActor(c.caller), c.caller.role, reason.slice(0, 2000), JSON.stringify(input), c.idempotencyKey, hash, c.now],
  ))[0]!);
}

/**
 * Under the agent's daily lock (held to the end of the transaction, so a concurrent adjustment of the
 * same agent sums after this one is committed): why `amount` passes the daily limit, or null.
 */
async function overDailyLimit(sql: Sql, daily: ApprovalLimits, caller: Caller, amount: Decimal, currency: string, now: Date): Promise<string | null> {
  await sql.query('select pg_advisory_xact_lock(hashtext($1), hashtext($2))', ['approval-daily:wallets', `${caller.subject}|${currency}`]);
  const [moved] = await sql.query<{ total: string }>(
    `select coalesce(sum(abs(a.amount)), 0) as total from balance_adjustment a join wallet w on w.id = a.wallet_id
      where a.agent = $1 and a.agent_role = 'AGENT' and w.currency = $2 and a.created_at > $3
        and not exists (select 1 from balance_adjustment_request r where r.adjustment_id = a.id)`,
    [caller.subject, currency, approvalDailyWindowStart(now)],
  );
  return dailyLimitExceeded(daily, new Decimal(moved?.total ?? '0'), amount, currency);
}

/** The request's state on the outbox (billing.wallets.adjustmentrequest.created / .decided / .expired), once per state. */
async function announce(sql: Sql, name: 'balanceAdjustmentRequested' | 'balanceAdjustmentDecided' | 'balanceAdjustmentExpired', now: Date, r: AdjustmentRequestRow): Promise<AdjustmentRequestRow> {
  await announceAll(sql, name, now, [r]);
  return r;
}

async function announceAll(sql: Sql, name: 'balanceAdjustmentRequested' | 'balanceAdjustmentDecided' | 'balanceAdjustmentExpired', now: Date, rs: AdjustmentRequestRow[]): Promise<void> {
  if (rs.length === 0) return;
  await insertOutbox(sql, rs.map((r) => eventRow(name, r.wallet_id, [r.id, r.status], now, {
    requestId: r.id, walletId: r.wallet_id, billingAccountId: r.billing_account_id, amount: { amount: new Decimal(r.amount).toFixed(minorUnits(r.currency)), currency: r.currency },
    requestedBy: r.requested_by, reason: r.reason, status: r.status, decidedBy: r.decided_by, decisionNote: r.decision_note, adjustmentId: r.adjustment_id,
    ...(r.status === 'FAILED' ? { failureCode: r.failure_code, failureReason: r.failure_reason } : {}),
  })));
}

/** When `r` can no longer be approved (BalanceAdjustmentRequest.expiresAt). */
export const expiresAt = (r: AdjustmentRequestRow, ttlHours: number): Date => approvalExpiresAt(r.created_at, ttlHours);

/** A PENDING request past its TTL is expired whether or not the jobs have marked it yet. */
function refuseExpired(row: AdjustmentRequestRow, now: Date, ttlHours: number): void {
  if (row.status === 'EXPIRED' || (row.status === 'PENDING' && isApprovalExpired(row.created_at, now, ttlHours))) throw approvalExpired(`Balance adjustment request ${row.id}`, row.created_at, ttlHours);
}

async function lockRequest(sql: Sql, id: string): Promise<AdjustmentRequestRow> {
  const [row] = await sql.query<AdjustmentRequestRow>(`select * from balance_adjustment_request where id = $1 for update`, [id]);
  if (!row) throw notFound('BalanceAdjustmentRequest', id, 'input.id');
  return row;
}

const requireDecider = (row: AdjustmentRequestRow, caller: Caller): void => requireApprover(caller, row.requested_by, `balance adjustment request ${row.id}`);

/**
 * Approves a PENDING request: the adjustment is made now with the stored input; APPROVED with its id.
 * Under the request's row lock, so a second or concurrent approval answers the request as it ended.
 * One past its TTL: APPROVAL_EXPIRED, nothing moves.
 *
 * The adjustment runs in a savepoint: its own coded refusal (a debit the balance no longer covers)
 * undoes what it did and ends the request FAILED with the code and reason, so it no longer waits as if
 * it could still be approved. Any other error (database, connection) rolls it all back: PENDING.
 */
export async function approveAdjustment(sql: Sql, c: { id: string; caller: Caller; now: Date; ttlHours: number }): Promise<{ row: AdjustmentRequestRow; adjustment: AdjustmentRow | null }> {
  const row = await lockRequest(sql, c.id);
  requireDecider(row, c.caller);
  if (row.status === 'REJECTED') throw conflict('APPROVAL_REQUEST_DECIDED', `Request ${row.id} was rejected`, { field: 'input.id', status: row.status });
  if (row.status === 'APPROVED') return { row, adjustment: (await sql.query<AdjustmentRow>(`select * from balance_adjustment where id = $1`, [row.adjustment_id]))[0] ?? null };
  if (row.status === 'FAILED') return { row, adjustment: null };
  refuseExpired(row, c.now, c.ttlHours);
  const requester: Caller = { role: 'AGENT', subject: row.requested_by, scopes: [] };
  await sql.query('savepoint approval_adjustment');
  let adjustment: AdjustmentRow;
  try {
    adjustment = await adjustBalance(sql, { ...inputOf(row), caller: requester, now: c.now });
    await sql.query('release savepoint approval_adjustment');
  } catch (error) {
    const failure = approvalFailure(error);
    if (!failure) throw error;
    await sql.query('rollback to savepoint approval_adjustment');
    const [failed] = await sql.query<AdjustmentRequestRow>(
      `update balance_adjustment_request set status = 'FAILED', decided_by = $2, decided_at = $3, failure_code = $4, failure_reason = $5 where id = $1 returning *`,
      [row.id, approvalActor(c.caller), c.now, failure.code, failure.reason],
    );
    return { row: await announce(sql, 'balanceAdjustmentDecided', c.now, failed!), adjustment: null };
  }
  const [updated] = await sql.query<AdjustmentRequestRow>(
    `update balance_adjustment_request set status = 'APPROVED', decided_by = $2, decided_at = $3, adjustment_id = $4 where id = $1 returning *`,
    [row.id, approvalActor(c.caller), c.now, adjustment.id],
  );
  return { row: await announce(sql, 'balanceAdjustmentDecided', c.now, updated!), adjustment };
}

/**
 * One pass of the wallet jobs: PENDING requests made `ttlHours` or more before `now` become EXPIRED
 * (nothing moved; adjustmentrequest.expired each), oldest first, `limit` a pass. Rows a supervisor is
 * deciding right now are skipped (their approval sees the TTL itself); the next pass takes the rest.
 */
export async function expireAdjustmentRequests(db: Db, now: Date, ttlHours: number, limit = 500): Promise<AdjustmentRequestRow[]> {
  return db.tx(async (sql) => {
    const cutoff = new Date(now.getTime() - Math.round(ttlHours * 3_600_000));
    const expired = await sql.query<AdjustmentRequestRow>(
      `update balance_adjustment_request set status = 'EXPIRED', decided_at = $1, decision_note = $2
        where id in (select id from balance_adjustment_request where status = 'PENDING' and created_at <= $3 order by created_at, id limit $4 for update skip locked)
        returning *`,
      [now, `Not decided within ${ttlHours} h (LEDGERLINE_APPROVAL_TTL_HOURS); nothing moved. Ask again with a new idempotency key.`, cutoff, limit],
    );
    await announceAll(sql, 'balanceAdjustmentExpired', now, expired);
    return expired;
  });
}

/** Rejects a PENDING request: nothing moves. Again: answered as it is; an approved or failed one: APPROVAL_REQUEST_DECIDED; an expired one: APPROVAL_EXPIRED. */
export async function rejectAdjustment(sql: Sql, c: { id: string; reason: string; caller: Caller; now: Date; ttlHours: number }): Promise<AdjustmentRequestRow> {
  const reason = (c.reason ?? '').trim();
  if (reason.length < 3) throw badInput('input.reason', 'Say why the request is rejected (at least 3 characters; the requester reads it)', 'REASON_REQUIRED');
  const row = await lockRequest(sql, c.id);
  requireDecider(row, c.caller);
  if (row.status === 'REJECTED') return row;
  if (row.status === 'APPROVED' || row.status === 'FAILED') throw conflict('APPROVAL_REQUEST_DECIDED', `Request ${row.id} was ${row.status === 'APPROVED' ? 'approved' : 'approved and its adjustment refused'}`, { field: 'input.id', status: row.status });
  refuseExpired(row, c.now, c.ttlHours);
  const [updated] = await sql.query<AdjustmentRequestRow>(`update balance_adjustment_request set status = 'REJECTED', decided_by = $2, decision_note = $3, decided_at = $4 where id = $1 returning *`, [row.id, approvalActor(c.caller), reason.slice(0, 2000), c.now]);
  return announce(sql, 'balanceAdjustmentDecided', c.now, updated!);
}

/** Newest first (created_at, then id), of one status or all; the cursor is the last row's (created_at, id). */
export async function listAdjustmentRequests(sql: Sql, args: { status?: RequestStatus | null; first?: number | null; after?: string | null }) {
  const limit = pageSize(args);
  const params: unknown[] = [limit + 1];
  const where: string[] = [];
  if (args.status) where.push(`status = $${params.push(args.status)}`);
  if (args.after) {
    const [at, id] = decodeCursor(args.after).split('|');
    if (!at || !id || Number.isNaN(Date.parse(at))) throw badInput('after', 'This cursor was not issued by balanceAdjustmentRequests', 'CURSOR_INVALID');
    where.push(`(created_at, id) < ($${params.push(at)}::timestamptz, $${params.push(id)})`);
  }
  const rows = await sql.query<AdjustmentRequestRow>(`select * from balance_adjustment_request ${where.length ? `where ${where.join(' and ')}` : ''} order by created_at desc, id desc limit $1`, params);
  return toConnection(rows, limit, (r) => `${new Date(r.created_at).toISOString()}|${r.id}`, Boolean(args.after));
}
