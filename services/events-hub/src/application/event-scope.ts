import { DomainError, type Caller } from '@ledgerline/contracts';
import { EVENT_SCOPES, type EventScope } from '../domain/visibility';
import { findScope, listScopes, scopeChanges, storeScope, type ScopeChange, type ScopeRow } from '../persistence/visibility-store';
import { hubScope, PARTNER_ID_MAX_LENGTH } from './authorization';
import type { HubDeps } from './deps';

/** Where staff set a partner's event scope (a Ledgerline extension next to the TMF688 hub). */
export const EVENT_SCOPE_PATH = '/tmf-api/eventManagement/v4/partnerEventScope';

export interface EventScopeView {
  partnerId: string;
  scope: EventScope;
  /** Who set it and when (null: never set, OWN_CUSTOMERS by default). */
  grantedBy: string | null;
  grantedAt: string | null;
}

const viewOf = (row: ScopeRow): EventScopeView => ({ partnerId: row.partnerId, scope: row.scope, grantedBy: row.grantedBy, grantedAt: row.grantedAt?.toISOString() ?? null });
const historyOf = (c: ScopeChange) => ({ scope: c.scope, previousScope: c.previousScope, changedBy: c.changedBy, changedByRole: c.changedByRole, changedAt: c.changedAt.toISOString() });

function adminOnly(caller: Caller, what: string): void {
  if (hubScope(caller) !== null) throw new DomainError('HUB_FORBIDDEN', `Only an ADMIN may ${what} a partner's event scope`, {}, 'FORBIDDEN');
}

function partnerIdOf(raw: string): string {
  const id = raw.trim();
  if (!id || id.length > PARTNER_ID_MAX_LENGTH || id.includes('\u0000'))
    throw new DomainError('EVENT_SCOPE_INVALID', `partnerId must be 1-${PARTNER_ID_MAX_LENGTH} characters, as in the partner's tokens`, { field: 'partnerId' }, 'BAD_USER_INPUT');
  return id;
}

/**
 * Staff (ADMIN) set which events a partner's hubs get: OWN_CUSTOMERS (events about billing accounts assigned to it,
 * and the catalog's; the default) or ALL (every event: trusted integrations such as the operator's CRM or data
 * warehouse). Kept with who and when, and each change in partner_event_scope_change (audit), logged. Applies to the
 * events the hub reads from then on (live and replays); deliveries already stored stay.
 */
export async function setEventScope(deps: HubDeps, caller: Caller, rawPartnerId: string, input: unknown): Promise<EventScopeView> {
  adminOnly(caller, 'set');
  const partnerId = partnerIdOf(rawPartnerId);
  const scope = (input as { scope?: unknown } | null)?.scope;
  if (typeof scope !== 'string' || !(EVENT_SCOPES as readonly string[]).includes(scope))
    throw new DomainError('EVENT_SCOPE_INVALID', `scope must be one of ${EVENT_SCOPES.join(', ')} (ALL: every event, for trusted integrations only)`, { field: 'scope' }, 'BAD_USER_INPUT');
  const before = await findScope(deps.knex, partnerId);
  const row = await storeScope(deps.knex, partnerId, scope as EventScope, { subject: caller.subject, role: caller.role }, deps.clock.now());
  if (before?.scope !== row.scope)
    deps.logger.info({ partnerId, scope: row.scope, previousScope: before?.scope ?? null, by: caller.subject, role: caller.role }, 'partner event scope set');
  return viewOf(row);
}

/** A partner's scope: an ADMIN any partner's (with its history), a PARTNER its own (another's: 404, as a hub). */
export async function getEventScope(deps: HubDeps, caller: Caller, rawPartnerId: string): Promise<EventScopeView & { history?: ReturnType<typeof historyOf>[] }> {
  const confined = hubScope(caller);
  const partnerId = partnerIdOf(rawPartnerId);
  if (confined && confined.partnerId !== partnerId) throw new DomainError('EVENT_SCOPE_NOT_FOUND', `No event scope of partner ${partnerId} for this token`, { field: 'partnerId' }, 'NOT_FOUND');
  const row = (await findScope(deps.knex, partnerId)) ?? { partnerId, scope: 'OWN_CUSTOMERS' as const, grantedBy: null, grantedAt: null };
  if (confined) return viewOf(row);
  return { ...viewOf(row), history: (await scopeChanges(deps.knex, partnerId)).map(historyOf) };
}

/** Every scope staff have set (ADMIN), by partner id; partners without one are OWN_CUSTOMERS. */
export async function listEventScopes(deps: HubDeps, caller: Caller): Promise<EventScopeView[]> {
  adminOnly(caller, 'list');
  return (await listScopes(deps.knex)).map(viewOf);
}
