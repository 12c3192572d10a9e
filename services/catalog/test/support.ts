// What the catalog's integration tests share: the catalog folder's documents, the offers every
// test catalog starts with, a wait for callers blocked on a lock (the race tests), and a stand-in
// usage subgraph for comparePlans on an account.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type pg from 'pg';
import { ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';

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

/** The catalog service on its own schema, its clock at `now`, with the offers imported. */
export async function startCatalog(now: string): Promise<TestService> {
  const { catalogService } = await import('../src/service');
  const svc = await startServiceForTest(catalogService, { clock: new ManualClock(new Date(now)) });
  await importOffers(svc);
  return svc;
}

/** A DATA record as the usage subgraph's `usageRecords` gives it. */
export const usageRecord = (eventId: string, quantity: string, occurredAt: string) => ({
  eventId, usageType: 'DATA', direction: 'OUTGOING', quantity, occurredAt, calledNumber: null, roamingCountry: null, visitedMcc: null, status: 'RATED',
});

/** One page of `usageRecords`, the last. */
export const usagePage = (nodes: object[]) => ({ data: { usageRecords: { edges: nodes.map((node) => ({ node })), pageInfo: { hasNextPage: false, endCursor: null } } } });

/**
 * The catalog service started against a stand-in for the usage subgraph (for comparePlans on an
 * account): `answer` gives the GraphQL response to each request from its headers and parsed body.
 * The catalog reads USAGE_URL at each comparePlans, so it is set once the stand-in listens.
 * The offers are imported; `close` stops both.
 */
export async function startCatalogWithUsage(
  answer: (headers: http.IncomingHttpHeaders, body: { variables: { f: { billingAccountId: string } } }) => object,
  now: string,
): Promise<{ svc: TestService; close: () => Promise<void> }> {
  const usage = http.createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(req.headers, JSON.parse(text)))));
  });
  await new Promise<void>((resolve) => usage.listen(0, '127.0.0.1', resolve));
  process.env.USAGE_URL = `http://127.0.0.1:${(usage.address() as AddressInfo).port}/graphql`;
  const svc = await startCatalog(now);
  return {
    svc,
    close: async () => {
      await svc.close();
      usage.close();
      delete process.env.USAGE_URL;
    },
  };
}
