import type { Knex } from '@ledgerline/platform';

/** Events on subjects the hub's registry did not know when they were read (migration 20270201): plain SQL (knex). */
export interface UnknownTypeEvent {
  id: string;
  eventId: string;
  generation: number;
  onlyHub: string;
  subject: string;
  eventType: string;
  payload: string;
  heldAt: Date;
}

const asDate = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));

export async function insertUnknownTypeEvents(trx: Knex, rows: Omit<UnknownTypeEvent, 'id'>[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500)
    await trx('unknown_type_event')
      .insert(
        rows.slice(i, i + 500).map((r) => ({
          event_id: r.eventId,
          generation: r.generation,
          only_hub: r.onlyHub,
          subject: r.subject,
          event_type: r.eventType,
          payload: r.payload,
          held_at: r.heldAt,
        })),
      )
      .onConflict(['event_id', 'generation', 'only_hub'])
      .ignore();
}

/**
 * Held events whose subject is among `subjects` (those this hub now knows), oldest first (stream order), row-locked
 * (SKIP LOCKED: another replica releasing takes others), at most `limit`.
 */
export async function lockUnknownTypeEventsOf(trx: Knex, subjects: string[], limit: number): Promise<UnknownTypeEvent[]> {
  if (!subjects.length) return [];
  const rows = (await trx('unknown_type_event').whereIn('subject', subjects).orderBy('id').limit(limit).forUpdate().skipLocked()) as any[];
  return rows.map((r) => ({ id: String(r.id), eventId: r.event_id, generation: Number(r.generation), onlyHub: r.only_hub, subject: r.subject, eventType: r.event_type, payload: r.payload, heldAt: asDate(r.held_at) }));
}

export async function deleteUnknownTypeEvents(trx: Knex, ids: string[]): Promise<void> {
  if (ids.length) await trx('unknown_type_event').whereIn('id', ids).delete();
}

/** Drops up to `limit` events held since before `before` (their type still unknown); returns how many. */
export async function dropUnknownTypeEventsBefore(knex: Knex, before: Date, limit: number): Promise<number> {
  const result = await knex.raw(`delete from unknown_type_event where id in (select id from unknown_type_event where held_at < ? order by id limit ? for update skip locked)`, [before, limit]);
  return Number((result as { rowCount: number }).rowCount ?? 0);
}
