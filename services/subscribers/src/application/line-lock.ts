import { LockMode } from '@mikro-orm/core';
import type { Em } from '@ledgerline/platform';
import { Line } from '../persistence/entities';
import { onPostgres } from '../persistence/platform';

/**
 * Loads the line row-locked (PostgreSQL `for update`, fresh from the database) until the
 * transaction ends. Placing an order and completing one both take this lock, so the checks made
 * under it (status, open orders, scheduled change) still hold when the order is written or
 * applied. SQLite runs one writer at a time and needs no lock.
 */
export async function lockLine(em: Em, lineId: string): Promise<Line | null> {
  const postgres = onPostgres(em);
  return em.findOne(Line, { id: lineId }, postgres ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {});
}
