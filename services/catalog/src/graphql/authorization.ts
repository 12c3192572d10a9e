import { DomainError, type Caller } from '@ledgerline/contracts';
import { requireRole } from '@ledgerline/platform';

/**
 * Who may do what in the catalog. What has taken effect is public (customers, partners, anonymous
 * callers): plans with a version in force now or before (on sale, or retired), those versions, and
 * offers (they have no dates). What is still to come is staff's (AGENT, ADMIN, SYSTEM): versions
 * published for a later date (a price rise before its date), plans whose only versions are such
 * (SCHEDULED), versions withdrawn before their date (CANCELLED), and `versionAt` a later moment.
 * What is not published at all is the editors' only: drafts, plans never published, and the audit
 * trail (who on the staff changed what). Editors are the roles that may change the catalog: product
 * managers (ADMIN) and trusted systems (SYSTEM). Refusals are coded: UNAUTHENTICATED without a
 * caller, FORBIDDEN otherwise; a read that answers null instead (plan by code, entity references)
 * answers as for a code that does not exist.
 */
export const EDITORS: readonly Caller['role'][] = ['ADMIN', 'SYSTEM'];

/** Staff as the other services define them (usage, wallets, subscribers): they read every account. */
export const STAFF: readonly Caller['role'][] = ['AGENT', 'ADMIN', 'SYSTEM'];

export const mayReadDrafts = (caller: Caller): boolean => EDITORS.includes(caller.role);

/** Staff read what is published for a later date (scheduled versions and plans, cancelled versions). */
export const mayReadScheduled = (caller: Caller): boolean => STAFF.includes(caller.role);

/** `requireRole`, the refusal naming `field` (the input or field refused) when given. */
function requireRoleFor(caller: Caller, roles: readonly Caller['role'][], action: string, field?: string): void {
  try {
    requireRole(caller, roles, action);
  } catch (error) {
    if (error instanceof DomainError && field) throw new DomainError(error.code, error.message, { ...error.details, field }, error.category);
    throw error;
  }
}

/** Editors only (drafts, the audit trail, plans filtered to DRAFT). */
export function requireEditor(caller: Caller, action: string, field?: string): void {
  requireRoleFor(caller, EDITORS, action, field);
}

/** Staff only (scheduled versions and plans, plans filtered to SCHEDULED, `versionAt` a later moment). */
export function requireStaff(caller: Caller, action: string, field?: string): void {
  requireRoleFor(caller, STAFF, action, field);
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
