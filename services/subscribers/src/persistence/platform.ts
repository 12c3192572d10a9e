import type { Em } from '@ledgerline/platform';

/**
 * Whether this entity manager talks to PostgreSQL (else SQLite, the zero-setup default). Row locks
 * (`for update`, `skip locked`) are asked for only there: SQLite has none (one writer at a time).
 */
export function onPostgres(em: Pick<Em, 'getPlatform'>): boolean {
  return em.getPlatform().constructor.name.startsWith('PostgreSql');
}
