import type { Caller } from '@ledgerline/contracts';
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

/** Staff, or the customer who owns the account (the line's account); FORBIDDEN otherwise. */
export function requireOwnAccount(caller: Caller, account: BillingAccount | null, action: string): void {
  if (isStaff(caller)) return;
  requireRole(caller, ['CUSTOMER'], action);
  if (account && account.customerId !== caller.customerId) requireRole(caller, [], action);
}
