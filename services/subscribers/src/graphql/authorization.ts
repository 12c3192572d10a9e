import type { Caller, DomainError } from '@ledgerline/contracts';
import { requireRole } from '@ledgerline/platform';
import type { BillingAccount } from '../persistence/entities';

/**
 * Who may do what in subscribers. Staff (agents, admins, the system) see and change everything;
 * a CUSTOMER sees only their own customer, accounts and lines, and may change plans, buy add-ons
 * and suspend (lost phone) on their own lines. Anonymous callers and partners see nothing here.
 */
export const STAFF: readonly Caller['role'][] = ['AGENT', 'ADMIN', 'SYSTEM'];
const READERS: readonly Caller['role'][] = [...STAFF, 'CUSTOMER'];

export const isStaff = (caller: Caller): boolean => STAFF.includes(caller.role);

export function requireStaff(caller: Caller, action: string): void {
  requireRole(caller, STAFF, action);
}

export function requireReader(caller: Caller): void {
  requireRole(caller, READERS, 'read customers, accounts or lines');
}

/** Whether the caller may see rows of this customer (after requireReader). */
export function canSeeCustomer(caller: Caller, customerId: string): boolean {
  return isStaff(caller) || (caller.role === 'CUSTOMER' && caller.customerId === customerId);
}

/**
 * Staff, or the customer who owns the account (the line's, the offer's account): any other role is
 * FORBIDDEN. A customer naming a row that is not theirs gets `hidden`, the NOT_FOUND a made-up id
 * gets (the use case's notFound for the id named), here for both, before anything else is checked:
 * as reads answer null, a customer cannot tell another customer's id from one that does not exist.
 * `account`: the account of the row named, null when there is no such row.
 */
export function requireOwnAccount(caller: Caller, account: BillingAccount | null, action: string, hidden: () => DomainError): void {
  if (isStaff(caller)) return;
  requireRole(caller, ['CUSTOMER'], action);
  if (!account || account.customerId !== caller.customerId) throw hidden();
}
