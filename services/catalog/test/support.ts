// What the catalog's integration tests share: the catalog folder's documents, the offers every
// test catalog starts with, and a wait for callers blocked on a lock (the race tests).
import fs from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { TestService } from '@ledgerline/platform';

export const CATALOG_DIR = path.resolve(import.meta.dirname, '..', '..', '..', 'catalog');
export const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(CATALOG_DIR, file), 'utf8'));

/** Imports every offer of catalog/offers (plans name them); fails on the first refusal. */
export async function importOffers(svc: TestService): Promise<void> {
  for (const f of fs.readdirSync(path.join(CATALOG_DIR, 'offers'))) {
    const r = await svc.request('mutation($i: ImportOfferInput!) { importOffer(input: $i) { offer { code } } }', { i: { document: readJson(`offers/${f}`) } });
    if (r.errors) throw new Error(`importOffer ${f}: ${JSON.stringify(r.errors)}`);
  }
}

/**
 * Waits (up to 10 s) until `n` backends wait for a lock while running a statement that matches one
 * of `likes` (SQL LIKE patterns: the service's statements name its schema; a few name none).
 */
export async function waitForLockWaiters(db: pg.Client, n: number, likes: string[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    // pg_stat_activity is read once per transaction (and `db` may hold one open): refresh it each time.
    await db.query('select pg_stat_clear_snapshot()');
    const { rows } = await db.query(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like any($1::text[])`, [likes]);
    if (rows[0].n >= n) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
