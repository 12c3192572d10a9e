import { DomainError, type Caller } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';

/**
 * Who may do what in wallets. Staff (agents, admins, the system: usage, the worker, network
 * elements) read and act on every account. A CUSTOMER reads and acts (recharge, vouchers, auto
 * top-up) only on the billing accounts of their own customer id (the token's `customerId`
 * claim); wallets knows which customer owns an account from subscribers' billingaccount.created
 * event (`account_owner`). Everyone else is refused. Refusals are coded DomainErrors. A customer
 * naming another customer's wallet, reservation or recharge by id gets what an unknown id gets
 * (requireRowAccount): a read null, a mutation its NOT_FOUND (`hidden`); one naming an account not
 * theirs is FORBIDDEN whether or not it exists (the same answer).
 */
export const STAFF: readonly Caller['role'][] = ['AGENT', 'ADMIN', 'SYSTEM'];
export const isStaff = (caller: Caller): boolean => STAFF.includes(caller.role);

export function forbidden(action: string): DomainError {
  return new DomainError('FORBIDDEN', `You may not ${action}`, {}, 'FORBIDDEN');
}

function requireSignedIn(caller: Caller, action: string): void {
  if (caller.role === 'ANONYMOUS') throw new DomainError('UNAUTHENTICATED', `Sign in to ${action}`, {}, 'UNAUTHENTICATED');
}

/** Staff only (opening wallets, direct credits, charges, reservations, budgets, limits). */
export function requireStaff(caller: Caller, action: string): void {
  requireSignedIn(caller, action);
  if (!isStaff(caller)) throw forbidden(action);
}

/** Per request: account id → may this caller act on it (one query per account per request). */
const cache = new WeakMap<Caller, Map<string, Promise<boolean>>>();

export async function mayAccessAccount(sql: Sql, caller: Caller, billingAccountId: string): Promise<boolean> {
  if (isStaff(caller)) return true;
  if (caller.role !== 'CUSTOMER' || !caller.customerId || typeof billingAccountId !== 'string') return false;
  let byAccount = cache.get(caller);
  if (!byAccount) cache.set(caller, (byAccount = new Map()));
  let answer = byAccount.get(billingAccountId);
  if (!answer) {
    answer = sql.query(`select 1 from account_owner where billing_account_id = $1 and customer_id = $2`, [billingAccountId, caller.customerId]).then((r) => r.length > 0);
    byAccount.set(billingAccountId, answer);
  }
  return answer;
}

/** Staff, or the customer who owns the account; UNAUTHENTICATED / FORBIDDEN otherwise. */
export async function requireAccount(sql: Sql, caller: Caller, billingAccountId: string, action: string): Promise<void> {
  requireSignedIn(caller, action);
  if (!(await mayAccessAccount(sql, caller, billingAccountId))) throw forbidden(action);
}

/**
 * A row named by id that names its account (wallet, reservation, recharge): staff get every row (a
 * missing one: null, or the use case's NOT_FOUND). A caller who may act on no account (a partner, a
 * customer token without a customer id) is refused first, so whether an id exists is no answer to
 * them. A customer gets their own row; another customer's answers exactly as an id that does not
 * exist, so which ids exist cannot be probed: a read gets null (no error), a mutation the `hidden` it
 * passes (the use case's NOT_FOUND), for a missing row and another customer's row alike.
 */
export async function requireRowAccount<T extends { billing_account_id: string }>(sql: Sql, caller: Caller, row: T | null | undefined, action: string, hidden?: () => DomainError): Promise<T | null> {
  requireSignedIn(caller, action);
  if (!isStaff(caller) && !(caller.role === 'CUSTOMER' && caller.customerId)) throw forbidden(action);
  if (isStaff(caller)) return row ?? null;
  if (row && (await mayAccessAccount(sql, caller, row.billing_account_id))) return row;
  if (hidden) throw hidden();
  return null;
}
