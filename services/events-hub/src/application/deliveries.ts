import { DomainError, type Caller } from '@ledgerline/contracts';
import { DELIVERY_STATUSES, type DeliveryStatus } from '../domain/delivery';
import { findDelivery, listDeliveries as selectDeliveries, reviveDelivery, type DeliveryRow } from '../persistence/store';
import type { HubDeps } from './deps';
import { visibleHub } from './hubs';

export interface DeliveryView {
  id: string;
  eventId: string;
  eventType: string;
  subject: string;
  generation: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

const view = (d: DeliveryRow): DeliveryView => ({
  id: d.id,
  eventId: d.eventId,
  eventType: d.eventType,
  subject: d.subject,
  generation: d.generation,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.status === 'PENDING' ? d.nextAttemptAt.toISOString() : null,
  lastStatusCode: d.lastStatusCode,
  lastError: d.lastError,
  createdAt: d.createdAt.toISOString(),
  deliveredAt: d.deliveredAt?.toISOString() ?? null,
});

const MAX_LIMIT = 500;

function whole(field: string, raw: string | null, fallback: number, max: number): number {
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new DomainError('HUB_INPUT_INVALID', `${field} must be a whole number from 0 to ${max}`, { field }, 'BAD_USER_INPUT');
  return n;
}

/** A page of a hub's deliveries, newest first, optionally of one status (TMF630 offset/limit). */
export async function listDeliveries(deps: HubDeps, caller: Caller, hubId: string, params: URLSearchParams): Promise<{ total: number; items: DeliveryView[] }> {
  await visibleHub(deps, caller, hubId);
  const status = params.get('status') ?? undefined;
  if (status !== undefined && !DELIVERY_STATUSES.includes(status as DeliveryStatus))
    throw new DomainError('HUB_INPUT_INVALID', `status must be one of ${DELIVERY_STATUSES.join(', ')}`, { field: 'status' }, 'BAD_USER_INPUT');
  const limit = whole('limit', params.get('limit'), 50, MAX_LIMIT) || 50;
  const offset = whole('offset', params.get('offset'), 0, Number.MAX_SAFE_INTEGER);
  const page = await selectDeliveries(deps.knex, hubId, status as DeliveryStatus | undefined, limit, offset);
  return { total: page.total, items: page.rows.map(view) };
}

/** A dead letter back to PENDING, due now, with a fresh set of attempts. */
export async function retryDelivery(deps: HubDeps, caller: Caller, hubId: string, deliveryId: string): Promise<DeliveryView> {
  await visibleHub(deps, caller, hubId);
  const now = deps.clock.now();
  // A delivery id is a bigint: anything else cannot exist (and would be a database error, not a 404).
  if (!/^\d{1,18}$/.test(deliveryId) || !(await reviveDelivery(deps.knex, hubId, deliveryId, now))) {
    const existing = await findDelivery(deps.knex, hubId, deliveryId);
    if (!existing)
      throw new DomainError('WEBHOOK_DELIVERY_NOT_FOUND', `Delivery ${deliveryId} of ${hubId} does not exist`, { field: 'deliveryId' }, 'NOT_FOUND');
    throw new DomainError(
      'WEBHOOK_DELIVERY_ILLEGAL_TRANSITION',
      `Delivery ${deliveryId} is ${existing.status}; only a DEAD delivery can be retried`,
      { field: 'deliveryId', deliveryStatus: existing.status },
      'CONFLICT',
    );
  }
  deps.wake();
  return view((await findDelivery(deps.knex, hubId, deliveryId))!);
}
