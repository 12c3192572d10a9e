import { DomainError, type Caller } from '@ledgerline/contracts';
import { PLATFORM, type SessionCaller } from '../application/charging-session';
import type { Sql } from '../persistence/sql';
import { MAX_PARTNER_ID, partnerIdProblem } from '../application/partner-usage-entitlement';

/**
 * Who may read what in usage (the same policy as wallets' and subscribers'). Staff (agents,
 * admins, the system: the worker, invoicing, the CSV import, network elements) read every record.
 * A CUSTOMER reads only what belongs to the billing accounts of their own customer id (the token's
 * `customerId` claim): records rated to such an account, the live usage of such an account and of
 * the lines it holds now. Usage knows who owns an account from subscribers' billingaccount events
 * (`account_owner`, consumer `owners`). Rejected records (raw partner feed payloads, operations
 * data) are staff only: a partner reads no records (`source` is any text a caller chooses; record_sender says which
 * partner sent a record since 2027-01-30, for the partner check, not for reads). Everyone else is refused.
 * Refusals are coded DomainErrors: UNAUTHENTICATED without a caller, FORBIDDEN otherwise. A customer
 * never learns which ids exist: another customer's record read by id is null, as an unknown id
 * (readableRow); another customer's line or account (`Line.usage`, `BillingAccount.usage`, a list
 * naming the account) is FORBIDDEN, as an unknown one is (requireLine, requireAccount).
 */
export const STAFF: readonly Caller['role'][] = ['AGENT', 'ADMIN', 'SYSTEM'];
export const isStaff = (caller: Caller): boolean => STAFF.includes(caller.role);

export function forbidden(action: string): DomainError {
  return new DomainError('FORBIDDEN', `You may not ${action}`, {}, 'FORBIDDEN');
}

export function requireSignedIn(caller: Caller, action: string): void {
  if (caller.role === 'ANONYMOUS') throw new DomainError('UNAUTHENTICATED', `Sign in to ${action}`, {}, 'UNAUTHENTICATED');
}

/** Staff only (rejected records). */
export function requireStaff(caller: Caller, action: string): void {
  requireSignedIn(caller, action);
  if (!isStaff(caller)) throw forbidden(action);
}

/** A customer's own reads: UNAUTHENTICATED for nobody, FORBIDDEN for any role but staff and CUSTOMER (partners read no records). */
export function requireReader(caller: Caller, action: string): void {
  requireSignedIn(caller, action);
  if (!isStaff(caller) && !(caller.role === 'CUSTOMER' && caller.customerId)) throw forbidden(action);
}

/** Per request (the caller object is the request's): the accounts of the calling customer. */
const owned = new WeakMap<Caller, Promise<Set<string>>>();

/** The billing accounts the calling customer owns (empty for anyone else; staff need no list). */
export function ownedAccounts(sql: Sql, caller: Caller): Promise<Set<string>> {
  if (caller.role !== 'CUSTOMER' || !caller.customerId) return Promise.resolve(new Set());
  let accounts = owned.get(caller);
  if (!accounts) {
    accounts = sql.query<{ billing_account_id: string }>('select billing_account_id from account_owner where customer_id = $1', [caller.customerId]).then((r) => new Set(r.rows.map((row) => row.billing_account_id)));
    owned.set(caller, accounts);
  }
  return accounts;
}

/** Staff, or the customer who owns the account. */
export async function mayReadAccount(sql: Sql, caller: Caller, billingAccountId: string | null | undefined): Promise<boolean> {
  if (isStaff(caller)) return true;
  return Boolean(billingAccountId) && (await ownedAccounts(sql, caller)).has(billingAccountId!);
}

/** Staff, or the customer who owns the account; UNAUTHENTICATED / FORBIDDEN otherwise (an account not theirs, whether or not it exists). */
export async function requireAccount(sql: Sql, caller: Caller, billingAccountId: string, action: string): Promise<void> {
  requireReader(caller, action);
  if (!(await mayReadAccount(sql, caller, billingAccountId))) throw forbidden(action);
}

/**
 * A row read by id that names its account (a usage record: the account it was rated to). Staff read
 * every row; a customer reads their own, and another customer's row (or one rated to no account) is
 * null, exactly what an id that does not exist reads as (no error), so which ids exist cannot be
 * probed. Anyone else is refused first (requireReader), whatever the id.
 */
export async function readableRow<T extends { billingAccountId?: string | null }>(sql: Sql, caller: Caller, row: T | null | undefined, action: string): Promise<T | null> {
  requireReader(caller, action);
  if (!row || !(await mayReadAccount(sql, caller, row.billingAccountId))) return null;
  return row;
}

/**
 * Staff, or the customer who owns the account that holds the line now (the read model's line_state; a line seen only
 * in a subscription: its latest); FORBIDDEN otherwise, for another customer's line and a line usage does not know alike.
 */
export async function requireLine(sql: Sql, caller: Caller, lineId: string, action: string): Promise<void> {
  requireReader(caller, action);
  if (isStaff(caller)) return;
  const { rows } = await sql.query<{ billing_account_id: string | null }>(
    `select coalesce((select billing_account_id from line_state where line_id = $1),
       (select billing_account_id from subscription_version where line_id = $1 order by valid_from desc limit 1)) as billing_account_id`,
    [lineId],
  );
  if (!(await mayReadAccount(sql, caller, rows[0]?.billing_account_id))) throw forbidden(action);
}

/**
 * The partner a PARTNER's `recordUsage` call sends usage as (kept beside its records, record_sender, and checked
 * against its usage entitlement); undefined for the platform's callers. A PARTNER token without a usable partnerId
 * is FORBIDDEN: its records could not be told from another partner's, nor limited to its own customers.
 */
export function usageSenderOf(caller: Caller): string | undefined {
  if (caller.role !== 'PARTNER') return undefined;
  if (partnerIdProblem(caller.partnerId) !== undefined) {
    throw new DomainError('FORBIDDEN', `This PARTNER token has no usable partnerId (1-${MAX_PARTNER_ID} characters), and a partner's usage records are its own (npx ledgerline token --role PARTNER --partner <id>)`, {}, 'FORBIDDEN');
  }
  return caller.partnerId;
}

/**
 * Whose online charging sessions a caller of `chargingSession` (SYSTEM, ADMIN, PARTNER) names. A PARTNER's own,
 * bound to its token's partnerId (so a PARTNER token without one is FORBIDDEN: its sessions could not be told from
 * another partner's), and naming another partner (`partnerId` in the input) is FORBIDDEN. SYSTEM and ADMIN
 * (operations) name the platform's own sessions, or a partner's by giving its `partnerId` (checked as input by
 * sessionInputProblem).
 */
export function sessionCallerOf(caller: Caller, named?: string | null): SessionCaller {
  if (caller.role !== 'PARTNER') return named == null ? PLATFORM : { partnerId: named, byPlatform: true };
  const partnerId = caller.partnerId;
  if (typeof partnerId !== 'string' || !partnerId.trim() || partnerId.includes('\u0000')) {
    throw new DomainError('FORBIDDEN', 'This PARTNER token has no partnerId, and a charging session is bound to the partner that opens it (npx ledgerline token --role PARTNER --partner <id>)', {}, 'FORBIDDEN');
  }
  if (named != null && named !== partnerId) {
    throw new DomainError('FORBIDDEN', "A PARTNER acts on its own charging sessions only: leave input.partnerId out (or give the token's own)", { field: 'input.partnerId' }, 'FORBIDDEN');
  }
  return { partnerId };
}
