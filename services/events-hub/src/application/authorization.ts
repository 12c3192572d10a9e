import { DomainError, type Caller } from '@ledgerline/contracts';

/**
 * Who may use the hub: a PARTNER (its token's partnerId owns its hubs) or an ADMIN (every hub).
 * Returns the partner a caller is confined to, or null for an ADMIN.
 */
export function hubScope(caller: Caller): { partnerId: string } | null {
  if (caller.role === 'ANONYMOUS')
    throw new DomainError('UNAUTHENTICATED', 'Send "Authorization: Bearer <token>" with a PARTNER or ADMIN token', {}, 'UNAUTHENTICATED');
  if (caller.role === 'ADMIN') return null;
  if (caller.role !== 'PARTNER')
    throw new DomainError('HUB_FORBIDDEN', `A ${caller.role} may not manage event subscriptions; use a PARTNER token`, {}, 'FORBIDDEN');
  if (!caller.partnerId)
    throw new DomainError('HUB_FORBIDDEN', 'This PARTNER token has no partnerId (npx ledgerline token --role PARTNER --partner <id>)', {}, 'FORBIDDEN');
  return { partnerId: caller.partnerId };
}

/** A hub the caller may not see is reported as missing, so partners cannot probe each other's ids. */
export const hubNotFound = (id: string) => new DomainError('HUB_NOT_FOUND', `Event subscription ${id} does not exist`, { field: 'id' }, 'NOT_FOUND');
