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

interface OutboxRecord {
  id: string;
  subject: string;
  payload: string;
  created_at: Date;
  attempts: number;
}

/** Outbox rows held back on a transaction (`holdEvents`), in the order they were enqueued. */
const held = new WeakMap<object, { subject: string; records: OutboxRecord[] }[]>();

/** Bulk version of the platform's `enqueueEvent`: one multi-row insert into the outbox (held back inside `holdEvents`). */
export async function enqueueEvents(em: Em, name: EventName, time: Date, events: OutboxRowInput[]): Promise<void> {
  if (events.length === 0) return;
  const def = EVENTS[name];
  const records = events.map((e) => {
    const event = createCloudEvent({ source: 'ledgerline/invoicing', type: def.type, subject: e.subject, time, data: e.data, key: e.key });
    const payload = JSON.stringify(event);
    checkOutboxPayload(def.subject, payload); // EVENT_TOO_LARGE before anything is written
    return { id: event.id, subject: def.subject, payload, created_at: time, attempts: 0 };
  });
  const hold = held.get(sql(em));
  if (hold) hold.push({ subject: def.subject, records });
  else await writeOutbox(em, def.subject, records);
}

/** One event type's rows (all on `subject`), in order. */
async function writeOutbox(em: Em, subject: string, records: OutboxRecord[]): Promise<void> {
  for (let i = 0; i < records.length; i += 1000) {
    const chunk = records.slice(i, i + 1000);
    const inserted: { id: string }[] = await sql(em)('outbox').insert(chunk).onConflict('id').ignore().returning('id');
    if (inserted.length === chunk.length) continue;
    // A row kept out is a replay of the same event, unless another event holds its id (refuseEventIdCollisions).
    const written = new Set(inserted.map((r) => r.id));
    const kept = chunk.filter((r) => !written.has(r.id));
    const clashes: { id: string; subject: string }[] = await sql(em)('outbox').select('id', 'subject').whereIn('id', kept.map((r) => r.id)).whereNot('subject', subject);
    refuseEventIdCollisions(kept, clashes);
  }
}

/**
 * Runs `work` in `em`'s transaction with the events it enqueues held back: answers its result and `write`, which
 * writes them to the outbox (in the order they were enqueued) where the caller calls it. The relay publishes in
 * the outbox's order, so a caller whose work comes first but must be told after what it writes next (a credit
 * note issued with its invoice, told after the invoice's customerbill.created) writes those events first, then
 * these. Not calling `write` drops them: call it before the transaction ends. Events of a raw savepoint rolled back
 * inside `work` stay held (none of today's callers' work has one).
 */
export async function holdEvents<T>(em: Em, work: () => Promise<T>): Promise<{ result: T; write: () => Promise<void> }> {
  const trx = sql(em);
  if (!em.getTransactionContext() || held.has(trx)) {
    // Outside a transaction nothing could be held for its end; nested, the outer hold keeps them in order.
    return { result: await work(), write: async () => {} };
  }
  const groups: { subject: string; records: OutboxRecord[] }[] = [];
  held.set(trx, groups);
  let result: T;
  try {
    result = await work();
  } finally {
    held.delete(trx);
  }
  return {
    result,
    write: async () => {
      for (const g of groups.splice(0)) await writeOutbox(em, g.subject, g.records);
    },
  };
}

export const iso = (d: Date | string): string => new Date(d).toISOString();
