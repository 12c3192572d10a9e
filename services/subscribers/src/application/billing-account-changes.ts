import { badInput, newId, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { BillingAccountChange } from '../persistence/entities';
import { BILLING_ACCOUNT_CHANGE_FIELDS, type BillingAccountChangeField, type FieldChange } from '../domain/billing-account-changes';

/** Who asks for a change: the caller's subject and role. */
export type ChangeActor = Pick<Caller, 'subject' | 'role'>;

/** Who made the changes of one request, when, and the key all its rows share. */
export interface ChangeRequest {
  by: ChangeActor;
  at: Date;
  requestKey: string;
}

/**
 * The request's audit context. `by` absent (a use case called without a caller, e.g. a script) is recorded as
 * `unknown` SYSTEM; `key`: the request's idempotency key where it has one, else an id is made for it.
 */
export function changeRequest(by: ChangeActor | undefined, at: Date, key?: string | null): ChangeRequest {
  return { by: by ?? { subject: 'unknown', role: 'SYSTEM' }, at, requestKey: key ?? newId('event') };
}

/**
 * Records a request's changes of one account in the transaction of the change (the caller flushes), numbered after
 * the account's last row. The caller holds the account's write lock (or has just created it), so two requests never
 * take one number (and the unique (account, seq) would refuse it). Answers the last number written, null when
 * nothing changed: a no-op writes no row.
 */
export async function recordAccountChanges(em: Em, billingAccountId: string, changes: FieldChange[], r: ChangeRequest): Promise<number | null> {
  if (changes.length === 0) return null;
  const last = await em.findOne(BillingAccountChange, { billingAccountId }, { orderBy: { seq: 'desc' } });
  let seq = last?.seq ?? 0;
  for (const c of changes) {
    seq += 1;
    em.create(BillingAccountChange, {
      id: newId('event'),
      billingAccountId,
      seq,
      field: c.field,
      oldValue: c.oldValue,
      newValue: c.newValue,
      version: c.version ?? null,
      changedBy: r.by.subject.slice(0, 200),
      changedByRole: r.by.role,
      changedAt: r.at,
      viaAccountId: c.viaAccountId ?? null,
      requestKey: r.requestKey.slice(0, 200),
      reason: c.reason ?? null,
    });
  }
  return seq;
}

/** A page of an account's trail, newest first (by `seq`), optionally one field's; `after` is a row's cursor (its seq). */
export async function listAccountChanges(
  em: Em,
  billingAccountId: string,
  q: { field?: string | null; after?: string | null; limit: number },
): Promise<{ rows: BillingAccountChange[]; totalCount: number }> {
  const where: Record<string, unknown> = { billingAccountId };
  if (q.field != null) {
    if (!BILLING_ACCOUNT_CHANGE_FIELDS.includes(q.field as BillingAccountChangeField)) throw badInput('field', `field is one of ${BILLING_ACCOUNT_CHANGE_FIELDS.join(', ')}`, 'FIELD_INVALID');
    where.field = q.field;
  }
  const totalCount = await em.count(BillingAccountChange, where);
  if (q.after != null) {
    const seq = Number(q.after);
    if (!/^\d{1,9}$/.test(q.after) || !Number.isSafeInteger(seq)) throw badInput('after', 'after is a cursor this connection gave', 'CURSOR_INVALID');
    where.seq = { $lt: seq };
  }
  const rows = await em.find(BillingAccountChange, where, { orderBy: { seq: 'desc' }, limit: q.limit + 1 });
  return { rows, totalCount };
}
