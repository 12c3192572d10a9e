/**
 * Outbox rows written with raw SQL in the pipeline's transaction. The platform relay publishes
 * any row (subject, payload) with `Nats-Msg-Id` = id; `on conflict do nothing` on the id makes
 * a repeated write a no-op, so deterministic ids give exactly-once emission.
 */
import { createCloudEvent, EVENTS, WORK_SUBJECTS, type ChargeRequest, type EventName } from '@ledgerline/contracts';
import { insertJsonRows, type SqlClient } from '../persistence/sql';

export const USAGE_SOURCE = 'ledgerline/usage';

export interface OutboxRow {
  id: string;
  subject: string;
  payload: string;
  createdAt: Date;
}

/** A ChargeRequest is a plain message (not a CloudEvent, see contracts/messages.ts), keyed by chargeId. */
export function chargeRequestRow(request: ChargeRequest, now: Date): OutboxRow {
  return { id: request.chargeId, subject: WORK_SUBJECTS.chargeRequested, payload: JSON.stringify(request), createdAt: now };
}

export function eventRow<T>(name: EventName, subject: string, key: string[], data: T, now: Date): OutboxRow {
  const event = createCloudEvent({ source: USAGE_SOURCE, type: EVENTS[name].type, subject, time: now, data, key });
  return { id: event.id, subject: EVENTS[name].subject, payload: JSON.stringify(event), createdAt: now };
}

export async function insertOutbox(db: SqlClient, rows: OutboxRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const unique = [...new Map(rows.map((r) => [r.id, r])).values()];
  const inserted = await insertJsonRows<{ id: string }>(db, 'outbox', ['id', 'subject', 'payload', 'created_at', 'attempts'], unique.map((r) => ({ id: r.id, subject: r.subject, payload: r.payload, created_at: r.createdAt, attempts: 0 })), 'on conflict (id) do nothing returning id');
  return inserted.length;
}
