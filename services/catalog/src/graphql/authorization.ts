import { DomainError, type Caller } from '@ledgerline/contracts';
import { requireRole } from '@ledgerline/platform';

/**
 * Who may do what in the catalog. The published catalog (plans with a published version, their
 * published versions, offers) is public. What is not published yet is the editors' only: drafts
 * (upcoming prices), plans never published, and the audit trail (who on the staff changed what).
 * Editors are the roles that may change the catalog: product managers (ADMIN) and trusted systems
 * (SYSTEM). Refusals are coded: UNAUTHENTICATED without a caller, FORBIDDEN otherwise.
 */
export const EDITORS: readonly Caller['role'][] = ['ADMIN', 'SYSTEM'];

/** Staff as the other services define them (usage, wallets, subscribers): they read every account. */
export const STAFF: readonly Caller['role'][] = ['AGENT', 'ADMIN', 'SYSTEM'];

export const mayReadDrafts = (caller: Caller): boolean => EDITORS.includes(caller.role);

/** Editors only (drafts, the audit trail, plans filtered to DRAFT). */
export function requireEditor(caller: Caller, action: string, field?: string): void {
  try {
    requireRole(caller, EDITORS, action);
  } catch (error) {
    if (error instanceof DomainError && field) throw new DomainError(error.code, error.message, { ...error.details, field }, error.category);
    throw error;
  }
}

/**
 * May this caller ask for a billing account's usage at all? Staff, and a customer (for their own
 * accounts: the usage service, asked as this caller, checks the account is theirs). Anyone else is
 * refused here, before the usage service is asked.
 */
export function requireAccountReader(caller: Caller, field: string): void {
  if (caller.role === 'ANONYMOUS') throw new DomainError('UNAUTHENTICATED', "Sign in to compare plans on a billing account's usage", { field }, 'UNAUTHENTICATED');
  if (!STAFF.includes(caller.role) && !(caller.role === 'CUSTOMER' && caller.customerId)) {
    throw new DomainError('FORBIDDEN', `A ${caller.role} may not read a billing account's usage`, { field }, 'FORBIDDEN');
  }
}
