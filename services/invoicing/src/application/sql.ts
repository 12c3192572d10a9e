import { createHash } from 'node:crypto';
import { createCloudEvent, EVENTS, type EventName } from '@ledgerline/contracts';
import { checkOutboxPayload, refuseEventIdCollisions, type Em, type Knex } from '@ledgerline/platform';

/** The knex bound to the entity manager's open transaction (or the pool outside one). */
export function sql(em: Em): Knex {
  return (em.getTransactionContext() as Knex.Transaction | undefined) ?? em.getKnex();
}

/** Rows of a raw query, whatever the driver wraps them in. */
export async function rows<T>(em: Em, query: string, bindings: readonly unknown[] = []): Promise<T[]> {
  const result = await sql(em).raw(query, bindings as Knex.RawBinding[]);
  return (result.rows ?? result) as T[];
}

/** Stable hash of a request, so a reused idempotency key with other input is caught. */
export function requestHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export interface OutboxRowInput {
  subject: string;
  key: string[];
  data: unknown;
}

/** Bulk version of the platform's `enqueueEvent`: one multi-row insert into the outbox. */
export async function enqueueEvents(em: Em, name: EventName, time: Date, events: OutboxRowInput[]): Promise<void> {
  if (events.length === 0) return;
  const def = EVENTS[name];
  const records = events.map((e) => {
    const event = createCloudEvent({ source: 'ledgerline/invoicing', type: def.type, subject: e.subject, time, data: e.data, key: e.key });
    const payload = JSON.stringify(event);
    checkOutboxPayload(def.subject, payload); // EVENT_TOO_LARGE before anything is written
    return { id: event.id, subject: def.subject, payload, created_at: time, attempts: 0 };
  });
  for (let i = 0; i < records.length; i += 1000) {
    const chunk = records.slice(i, i + 1000);
    const inserted: { id: string }[] = await sql(em)('outbox').insert(chunk).onConflict('id').ignore().returning('id');
    if (inserted.length === chunk.length) continue;
    // A row kept out is a replay of the same event, unless another event holds its id (refuseEventIdCollisions).
    const written = new Set(inserted.map((r) => r.id));
    const kept = chunk.filter((r) => !written.has(r.id));
    const clashes: { id: string; subject: string }[] = await sql(em)('outbox').select('id', 'subject').whereIn('id', kept.map((r) => r.id)).whereNot('subject', def.subject);
    refuseEventIdCollisions(kept, clashes);
  }
}

export const iso = (d: Date | string): string => new Date(d).toISOString();
