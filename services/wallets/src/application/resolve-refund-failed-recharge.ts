import { DomainError, badInput, conflict, notFound, type Caller, type RechargeResolvedData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { requestHash } from './ledger';
import { checkKey, creditWallet } from './topup-balance';
import { WALLET_SETTLED } from './wallets';
import { followUpCompletedTopups } from './balance-events';
import { RECHARGE_REFUND_FAILED_STATUS, rechargeWorkflowId } from '../adapters/recharge-starter';
import type { RechargeRow } from './recharge';

/** How staff closed a REFUND_FAILED recharge. */
export const REFUND_FAILED_RESOLUTIONS = ['REFUNDED_OUTSIDE', 'CREDITED'] as const;
export type RefundFailedResolution = (typeof REFUND_FAILED_RESOLUTIONS)[number];
/** A REFUND_FAILED recharge staff closed; final. */
export const RECHARGE_RESOLVED_STATUS = 'RESOLVED';
/** recharge.resolution_note is varchar(1000). */
export const RESOLUTION_NOTE_MAX = 1000;

/** The top-up key of a CREDITED resolution's credit (account-scoped by creditWallet: `TOPUP@<account>:recharge-<id>:resolveRefundFailed`). */
export const resolutionCreditKey = (rechargeId: string): string => `${rechargeWorkflowId(rechargeId)}:resolveRefundFailed`;

/** The reason written on a REFUND_FAILED recharge's auto top-up request when staff resolve it. */
export const requestReason = (resolution: RefundFailedResolution): string =>
  `RECHARGE_${RECHARGE_REFUND_FAILED_STATUS}, resolved ${resolution}: ${resolution === 'CREDITED' ? 'the wallet was credited' : 'the money was given back'}`;

export interface ResolvedRechargeRow extends RechargeRow {
  resolution: RefundFailedResolution | null;
  resolution_note: string | null;
  resolved_by: string | null;
  resolved_by_role: string | null;
  resolved_at: Date | null;
  resolution_key: string | null;
  resolution_hash: string | null;
  resolution_transaction_id: string | null;
}

export interface ResolveRefundFailedRechargeCommand {
  rechargeId: string;
  resolution: RefundFailedResolution;
  /** What was done (the bank's or provider's reference, a ticket): 1 to 1000 characters once trimmed. */
  note: string;
  /** Optional: a retry under it answers the same resolution; other input under it is IDEMPOTENCY_KEY_REUSED. */
  idempotencyKey?: string | null;
  caller: Caller;
  now: Date;
}

/**
 * Staff close a REFUND_FAILED card recharge (captured, credit refused, refund refused for good) once they have sorted
 * the customer's money out. REFUNDED_OUTSIDE: returned outside the provider's refund; nothing moves here. CREDITED: the
 * wallet is credited the recharge's amount from PAYMENTS_CLEARING (where the capture went), as the workflow's credit
 * would have, under a key of the recharge (`TOPUP@<account>:recharge-<id>:resolveRefundFailed`), so it happens at most
 * once whoever asks; a closed wallet not yet settled takes it (money paid before the close, as a late bank transfer);
 * a settled one refuses it (WALLET_SETTLED: return the money and resolve REFUNDED_OUTSIDE).
 * Either way the recharge becomes RESOLVED with how, the note, who and when, announced by `rechargeResolved` in the
 * same transaction (without the note: staff's text is internal, the event reaches the account's partner hubs), and leaves ledgerline_wallets_recharges_refund_failed. An auto top-up's request of it, until then
 * RECHARGE_REFUND_FAILED (money taken: counted toward its rule's limits), becomes RECHARGE_REFUNDED (REFUNDED_OUTSIDE:
 * not counted) or COMPLETED (CREDITED: counted; the wallet still below the threshold asks the next request).
 *
 * The recharge's row lock decides between staff resolving it at once: the first commits, the others then find it
 * RESOLVED and are refused RECHARGE_ALREADY_RESOLVED naming how and by whom, except a retry under the same key (the
 * key is the recharge's: staff's retry of their own request), answered the resolution it made.
 */
export async function resolveRefundFailedRecharge(sql: Sql, c: ResolveRefundFailedRechargeCommand): Promise<ResolvedRechargeRow> {
  if (!(REFUND_FAILED_RESOLUTIONS as readonly string[]).includes(c.resolution)) {
    throw badInput('input.resolution', `resolution must be one of ${REFUND_FAILED_RESOLUTIONS.join(', ')}`, 'RESOLUTION_INVALID');
  }
  const note = typeof c.note === 'string' ? c.note.trim() : '';
  if (note === '') throw badInput('input.note', "Say what was done with the customer's money (the refund's or transfer's reference, the ticket): the note is the audit record", 'NOTE_REQUIRED');
  if (note.length > RESOLUTION_NOTE_MAX) throw badInput('input.note', `The note has ${note.length} characters; at most ${RESOLUTION_NOTE_MAX}`, 'NOTE_TOO_LONG');
  const key = c.idempotencyKey ?? null;
  if (key !== null) checkKey(key);
  const hash = requestHash({ r: c.rechargeId, res: c.resolution, n: note });

  const [row] = await sql.query<ResolvedRechargeRow>(`select * from recharge where id = $1 for update`, [c.rechargeId]);
  if (!row) throw notFound('Recharge', c.rechargeId, 'input.rechargeId');
  if (row.status === RECHARGE_RESOLVED_STATUS) {
    if (key !== null && row.resolution_key === key) {
      if (row.resolution_hash !== hash) throw conflict('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for a different resolution of this recharge; use a new key for a new request', { field: 'input.idempotencyKey' });
      return row;
    }
    throw conflict(
      'RECHARGE_ALREADY_RESOLVED',
      `Recharge ${row.id} was already resolved ${row.resolution} by ${row.resolved_by_role} ${row.resolved_by} at ${new Date(row.resolved_at!).toISOString()}: nothing was changed`,
      { field: 'input.rechargeId', resolution: row.resolution, resolvedBy: row.resolved_by, resolvedAt: new Date(row.resolved_at!).toISOString() },
    );
  }
  if (row.status !== RECHARGE_REFUND_FAILED_STATUS) {
    throw conflict(
      'RECHARGE_NOT_REFUND_FAILED',
      `Recharge ${row.id} is ${row.status}: only a ${RECHARGE_REFUND_FAILED_STATUS} card recharge (captured, neither credited nor refunded) is resolved`,
      { field: 'input.rechargeId', status: row.status },
    );
  }

  // The recharge's auto top-up request (if it was one) follows the resolution, as it follows a recharge the workflow
  // settles (settleRecharge; its lock order: recharge, request, wallet): REFUNDED_OUTSIDE, the money was given back, so
  // RECHARGE_REFUNDED (no longer counted toward the rule's daily/monthly limits, not retried); CREDITED, the top-up
  // happened, so COMPLETED (counted, and a follow-up asked below when the credit left the wallet under the threshold).
  const requests = await sql.query<{ id: string }>(
    `update topup_request set status = $2, reason = $3 where recharge_id = $1 and status = $4 returning id`,
    [row.id, c.resolution === 'CREDITED' ? 'COMPLETED' : 'RECHARGE_REFUNDED', requestReason(c.resolution), `RECHARGE_${RECHARGE_REFUND_FAILED_STATUS}`],
  );
  let transactionId: string | null = null;
  if (c.resolution === 'CREDITED') {
    try {
      const credit = await creditWallet(
        sql,
        { billingAccountId: row.billing_account_id, amount: { amount: row.amount, currency: row.currency }, idempotencyKey: resolutionCreditKey(row.id), reference: `recharge ${row.id} resolved`, now: c.now },
        { kind: 'TOPUP', contra: 'PAYMENTS_CLEARING', channel: 'PAYMENT', untilSettled: true },
      );
      transactionId = credit.id;
    } catch (error) {
      // The wallet cannot take it (settled, no longer prepaid): say so on the choice staff made, not on a field they did not send.
      if (error instanceof DomainError && (error.code === WALLET_SETTLED || error.code === 'WALLET_NOT_PREPAID')) {
        throw new DomainError(error.code, `${error.message}. Recharge ${row.id} cannot be CREDITED: return the money to the customer and resolve it REFUNDED_OUTSIDE`, { ...error.details, field: 'input.resolution' }, error.category);
      }
      throw error;
    }
  }
  const [resolved] = await sql.query<ResolvedRechargeRow>(
    `update recharge set status = $2, resolution = $3, resolution_note = $4, resolved_by = $5, resolved_by_role = $6, resolved_at = $7, resolution_key = $8, resolution_hash = $9,
            resolution_transaction_id = $10, updated_at = $7
      where id = $1 and status = $11 returning *`,
    [row.id, RECHARGE_RESOLVED_STATUS, c.resolution, note, c.caller.subject, c.caller.role, c.now, key, hash, transactionId, RECHARGE_REFUND_FAILED_STATUS],
  );
  if (!resolved) throw new Error(`recharge ${row.id} left ${RECHARGE_REFUND_FAILED_STATUS} while locked`);
  const data: RechargeResolvedData = {
    rechargeId: row.id, billingAccountId: row.billing_account_id, walletId: row.wallet_id, amount: { amount: row.amount, currency: row.currency },
    resolution: c.resolution, resolvedBy: c.caller.subject, resolvedByRole: c.caller.role, resolvedAt: c.now.toISOString(), transactionId,
  };
  await insertOutbox(sql, [eventRow('rechargeResolved', row.billing_account_id, [row.id, 'resolved'], c.now, data)]);
  // A request completed by the credit with the wallet still below its rule's threshold asks the next one, as any completed one does.
  if (c.resolution === 'CREDITED') await followUpCompletedTopups(sql, c.now, requests.map((r) => r.id));
  return resolved;
}
