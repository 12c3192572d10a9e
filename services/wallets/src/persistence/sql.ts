import pg from 'pg';
import { createCloudEvent, EVENTS, type EventName } from '@ledgerline/contracts';
import { arrayParam } from '@ledgerline/platform';

// NUMERIC stays a string (pg's default), bigint too: money never becomes a JS number.

/** One SQL statement runner bound to one connection (inside a transaction when `withTx` made it). */
export interface Sql {
  query<R = Record<string, any>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Set once this transaction has queued outbox rows: only then need the relay be woken after the commit. */
  eventsQueued?: boolean;
}

export interface Db {
  pool: pg.Pool;
  /** Runs `work` in one transaction (READ COMMITTED + row locks); rolls back on any throw. */
  tx<T>(work: (sql: Sql) => Promise<T>): Promise<T>;
  /** Runs one statement outside a transaction. */
  query<R = Record<string, any>>(text: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

const statementNames = new Map<string, string>();
const MAX_PREPARED = 1000;

/**
 * A statement with parameters runs as a named prepared statement, so each connection parses and
 * plans it once instead of on every call (a charge or reserve batch is a handful of the same
 * statements, thousands of times a second). Our statement texts are a bounded set (values are
 * always parameters); past MAX_PREPARED distinct texts the rest run unnamed, so a text built with
 * literals can never grow the cache without bound.
 */
function prepared(text: string, params: unknown[] | undefined): pg.QueryConfig {
  if (!params?.length) return { text };
  let name = statementNames.get(text);
  if (!name && statementNames.size < MAX_PREPARED) statementNames.set(text, (name = `w${statementNames.size}`));
  // Batch statements pass arrays of thousands of values: written as literals in one pass (arrayParam).
  const values = params.map(arrayParam);
  return name ? { name, text, values } : { text, values };
}

export function openDb(databaseUrl: string, schema: string, max = Number(process.env.WALLETS_PG_POOL_MAX ?? 10)): Db {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, options: `-c search_path="${schema}" -c random_page_cost=1.1` });
  pool.on('error', () => undefined);
  const bind = (client: pg.PoolClient | pg.Pool): Sql => ({
    query: async <R>(text: string, params?: unknown[]) => (await client.query(prepared(text, params))).rows as R[],
  });
  return {
    pool,
    async tx(work) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await work(bind(client));
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    query: (text, params) => bind(pool).query(text, params),
    close: () => pool.end(),
  };
}

export interface OutboxRow {
  id: string;
  subject: string;
  payload: string;
  createdAt: Date;
}

/** The statement that inserts outbox rows (a row already queued is kept), to run alone or with the ledger writes (then set `sql.eventsQueued`). */
export function outboxWrite(rows: OutboxRow[]): { text: string; params: unknown[] } {
  return {
    text: `insert into outbox (id, subject, payload, created_at, attempts)
     select * , 0 from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
     on conflict (id) do nothing`,
    params: [rows.map((r) => r.id), rows.map((r) => r.subject), rows.map((r) => r.payload), rows.map((r) => r.createdAt)],
  };
}

/** Inserts outbox rows (the platform relay publishes any subject); a row already queued is kept. */
export async function insertOutbox(sql: Sql, rows: OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  const w = outboxWrite(rows);
  await sql.query(w.text, w.params);
  sql.eventsQueued = true;
}

export const WALLETS_SOURCE = 'ledgerline/wallets';

/** A CloudEvent outbox row for a registered event (the same envelope `enqueueEvent` writes). */
export function eventRow<T>(name: EventName, subject: string, key: string[], time: Date, data: T): OutboxRow {
  const def = EVENTS[name];
  const event = createCloudEvent({ source: WALLETS_SOURCE, type: def.type, subject, time, data, key });
  return { id: event.id, subject: def.subject, payload: JSON.stringify(event), createdAt: time };
}
