import DataLoader from 'dataloader';
import type { EntityName } from '@mikro-orm/core';
import type { Em } from './database';

/**
 * Batches `__resolveReference` and field lookups: a list of 100 lines resolves their accounts
 * in one `where id in (...)` query, not 100.
 */
export function entityLoader<T extends { id: string }>(em: Em, entity: EntityName<T>): DataLoader<string, T | null> {
  return new DataLoader(async (ids) => {
    const rows = (await em.find(entity, { id: { $in: [...ids] } } as never)) as T[];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

/** Batches one-to-many lookups, e.g. the lines of many accounts. */
export function groupLoader<T>(load: (keys: readonly string[]) => Promise<T[]>, keyOf: (row: T) => string): DataLoader<string, T[]> {
  return new DataLoader(async (keys) => {
    const rows = await load(keys);
    const groups = new Map<string, T[]>();
    for (const row of rows) {
      const key = keyOf(row);
      const list = groups.get(key);
      if (list) list.push(row);
      else groups.set(key, [row]);
    }
    return keys.map((key) => groups.get(key) ?? []);
  });
}
