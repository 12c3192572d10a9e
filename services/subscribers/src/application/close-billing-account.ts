import { LockMode } from '@mikro-orm/core';
import { badInput, conflict, notFound, type BillingAccountClosedData } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { BillingAccount, Line } from '../persistence/entities';
import { onPostgres } from '../persistence/platform';
import { assertIdempotencyKey } from '../domain/validation';
import { SOURCE } from './events';
import { changeRequest, recordAccountChanges, type ChangeActor } from './billing-account-changes';

export interface CloseBillingAccountCommand {
  billingAccountId: string;
  reason: string;
  idempotencyKey: string;
  /** Who asks (for the audit trail). */
  by?: ChangeActor;
  now: Date;
}

export const ACCOUNT_OPEN = 'OPEN';
export const ACCOUNT_CLOSED = 'CLOSED';

/**
 * Closes a billing account (the customer leaves), once every line of it is TERMINATED: status
 * CLOSED, `closedAt` now (the end of its final billing period), and `billingaccount.closed`, from
 * which invoicing bills that final period. Refused CONFLICT `ACCOUNT_HAS_LIVE_LINES` (naming them in
 * `lineIds`) while any line is not terminated (terminate them first with terminateLine; a line
 * whose TERMINATE order is still open is live). An account already closed is answered as it is,
 * with no new event: the same key again gets the first answer; the same key with another reason
 * is `IDEMPOTENCY_KEY_REUSED`. Refused CONFLICT `ACCOUNT_HAS_OPEN_CHILDREN` (naming them in
 * `childAccountIds`) while a child account (whose parent it is) is not closed: close them first.
 * The account row is locked, so a concurrent addLine (which reads it under a share lock,
 * `lockAccountOpen`) or openBillingAccount under it either lands first (and is seen here as a
 * live line or an open child) or sees the account closed. Audited: a STATUS row OPEN → CLOSED with `by`, the reason
 * and the idempotency key as its request (an account already closed records nothing more).
 */
export async function closeBillingAccount(em: Em, c: CloseBillingAccountCommand): Promise<BillingAccount> {
  const reason = (c.reason ?? '').trim();
  if (!reason) throw badInput('input.reason', 'Say why the account is closed', 'REASON_REQUIRED');
  if ([...reason].length > 300) throw badInput('input.reason', 'A reason is at most 300 characters', 'REASON_TOO_LONG');
  const key = assertIdempotencyKey((c.idempotencyKey ?? '').trim());
  const account = await lockAccount(em, c.billingAccountId, 'write');
  if (!account) throw notFound('BillingAccount', c.billingAccountId, 'input.billingAccountId');
  if (account.status === ACCOUNT_CLOSED) {
    if (account.closedKey === key && account.closedReason !== reason) {
      throw conflict('IDEMPOTENCY_KEY_REUSED', `Idempotency key ${key} closed this account for another reason`, { field: 'input.idempotencyKey' });
    }
    return account;
  }
  const live = await em.find(Line, { billingAccountId: account.id, status: { $ne: 'TERMINATED' } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  if (live.length > 0) {
    throw conflict('ACCOUNT_HAS_LIVE_LINES', `Billing account ${account.id} still has ${live.length} line(s) not terminated (${live.map((l) => `${l.id} ${l.status}`).join(', ')}); terminate them first`, {
      field: 'input.billingAccountId',
      lineIds: live.map((l) => l.id),
    });
  }
  // A hierarchy closes from the leaves up: a child left open would bill under a closed parent.
  const children = await em.find(BillingAccount, { parentAccountId: account.id, $or: [{ status: { $ne: ACCOUNT_CLOSED } }, { status: null }] }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  if (children.length > 0) {
    throw conflict('ACCOUNT_HAS_OPEN_CHILDREN', `Billing account ${account.id} still has ${children.length} child account(s) not closed (${children.map((a) => a.id).join(', ')}); close them first`, {
      field: 'input.billingAccountId',
      childAccountIds: children.map((a) => a.id),
    });
  }
  account.status = ACCOUNT_CLOSED;
  account.closedAt = c.now;
  account.closedReason = reason;
  account.closedKey = key;
  await recordAccountChanges(em, account.id, [{ field: 'STATUS', oldValue: ACCOUNT_OPEN, newValue: ACCOUNT_CLOSED, reason }], changeRequest(c.by, c.now, key));
  const data: BillingAccountClosedData = { billingAccountId: account.id, customerId: account.customerId, closedAt: c.now.toISOString(), reason };
  // Once per account: an account is closed once (never reopened), so its id is the event's key.
  enqueueEvent(em, 'billingAccountClosed', { source: SOURCE, subject: account.id, key: [account.id, 'closed'], time: c.now, data });
  await em.flush();
  return account;
}

/** The account row, locked on PostgreSQL (`write` for closing or changing it, `share` for adding to it). */
export async function lockAccount(em: Em, id: string, mode: 'write' | 'share'): Promise<BillingAccount | null> {
  const postgres = onPostgres(em);
  if (!postgres) return em.findOne(BillingAccount, { id });
  return em.findOne(BillingAccount, { id }, { lockMode: mode === 'write' ? LockMode.PESSIMISTIC_WRITE : LockMode.PESSIMISTIC_READ, refresh: true });
}

/** CONFLICT `ACCOUNT_CLOSED` on `field` for a closed account: it takes no new line, plan, child account or change. */
export function assertAccountOpen(account: Pick<BillingAccount, 'id' | 'status' | 'closedAt'>, field = 'input.billingAccountId'): void {
  if (account.status !== ACCOUNT_CLOSED) return;
  throw conflict('ACCOUNT_CLOSED', `Billing account ${account.id} was closed${account.closedAt ? ` on ${account.closedAt.toISOString()}` : ''}; a closed account takes no new line, plan, child account or change`, { field, billingAccountId: account.id });
}

/**
 * The account, read under a share lock (PostgreSQL) and refused `ACCOUNT_CLOSED` when closed: a
 * close running at the same time waits for this transaction (and then sees its new line) or has
 * committed (and is seen here).
 */
export async function lockAccountOpen(em: Em, id: string, field = 'input.billingAccountId'): Promise<BillingAccount | null> {
  const account = await lockAccount(em, id, 'share');
  if (account) assertAccountOpen(account, field);
  return account;
}
