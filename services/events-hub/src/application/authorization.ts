import { DomainError, type Caller } from '@ledgerline/contracts';

/** The longest partner id a hub stores (hub.partner_id). */
export const PARTNER_ID_MAX_LENGTH = 100;

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
  // A claim the hub cannot store (hub.partner_id is varchar(100)) is a bad token, refused like one without partnerId.
  if (caller.partnerId.length > PARTNER_ID_MAX_LENGTH)
    throw new DomainError(
      'HUB_FORBIDDEN',
      `This PARTNER token's partnerId is longer than ${PARTNER_ID_MAX_LENGTH} characters; issue one with a shorter partner id`,
      { field: 'partnerId' },
      'FORBIDDEN',
    );
  return { partnerId: caller.partnerId };
}

/** A hub the caller may not see is reported as missing, so partners cannot probe each other's ids. */
export const hubNotFound = (id: string) => new DomainError('HUB_NOT_FOUND', `Event subscription ${id} does not exist`, { field: 'id' }, 'NOT_FOUND');
