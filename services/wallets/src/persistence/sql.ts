import pg from 'pg';
import { createCloudEvent, EVENTS, type EventName } from '@ledgerline/contracts';
import { arrayParam, checkOutboxPayloads, EVENT_ID_CLASHES_SQL, inlineParams, logIdleConnectionErrors, refuseEventIdCollisions, sqlLiteral, type Logger } from '@ledgerline/platform';

// NUMERIC stays a string (pg's default), bigint too: money never becomes a JS number.

/** One SQL statement runner bound to one connection (inside a transaction when `withTx` made it). */
export interface Sql {
  query<R = Record<string, any>>(text: string, params?: unknown[]): Promise<R[]>;
  /**
   * Runs several statements, in order, in ONE round trip (the simple query protocol, parameters
   * written in as literals; in a transaction the `begin` goes with them when nothing ran before),
   * and returns each statement's rows. For the reads at the start of a batch transaction, which
   * otherwise wait on each other's round trips while locks are held. Each statement sees what
   * was committed before it started, as separate statements do.
   */
  queries(statements: readonly Statement[]): Promise<Record<string, any>[][]>;
  /**
   * A write nobody reads the rows of. In a transaction a small one is held and sent with the next
   * statement, or with the `commit` (one round trip fewer per write); its error, if any, is thrown
   * there and rolls the transaction back as before. A big one, or one outside a transaction, runs
   * at once.
   */
  write(text: string, params?: unknown[]): Promise<void>;
  /** Set once this transaction has queued outbox rows: only then need the relay be woken after the commit. */
  eventsQueued?: boolean;
}

export interface Db {
  pool: pg.Pool;
  /** Runs `work` in one transaction (READ COMMITTED + row locks); rolls back on any throw. */
  tx<T>(work: (sql: Sql) => Promise<T>): Promise<T>;
  /** Runs one statement outside a transaction. */
  query<R = Record<string, any>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Runs several statements in one round trip, outside a transaction (see Sql.queries). */
  queries(statements: readonly Statement[]): Promise<Record<string, any>[][]>;
  /** Runs one write outside a transaction (at once). */
  write(text: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

export interface Statement {
  text: string;
  params?: unknown[];
}

/** Statements read together in one round trip (`sql.queries`) and what their rows mean. */
export interface Reading<T> {
  statements: Statement[];
  parse(rows: Record<string, any>[][]): T;
}

/** A reading with no statements (nothing to lock or read): no rows. */
export const NOTHING_TO_READ: Reading<never[]> = { statements: [], parse: () => [] };

/** One statement's rows, as a reading. */
export function rowsOf<R>(text: string, params: unknown[]): Reading<R[]> {
  return { statements: [{ text, params }], parse: ([rows]) => rows as R[] };
}

/** Runs the readings' statements, in the order given, in one round trip; one result per reading. */
export async function readTogether<T extends unknown[]>(sql: Sql, ...readings: { [K in keyof T]: Reading<T[K]> }): Promise<T> {
  const rows = await sql.queries(readings.flatMap((r) => r.statements));
  let at = 0;
  return readings.map((r) => {
    const mine = rows.slice(at, (at += r.statements.length));
    return r.parse(mine);
  }) as T;
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

const sqlStatementNames = new Map<string, string>();
/** The SQL-level prepared statements (PREPARE) each connection holds, by connection. */
const preparedOn = new WeakMap<object, Set<string>>();

/**
 * One simple-protocol message for these statements. A statement with parameters runs as
 * `execute q<n>(literals)` of a statement prepared (PREPARE) once per connection, so PostgreSQL
 * plans it once instead of on every batch (planning the three reads of a reserve group took
 * ~0.27 ms by EXPLAIN). Past MAX_PREPARED texts, parameters are written
 * into the statement. `rows[i]` is the index of statement i's result among the message's results;
 * `prepare` lists the statements the connection must PREPARE first.
 */
function simpleMessage(statements: readonly Statement[], begin: boolean, commit: boolean, known: Set<string> | undefined): { text: string; rows: number[]; prepare: { name: string; text: string }[] } {
  const parts: string[] = begin ? ['begin'] : [];
  const rows: number[] = [];
  const prepare: { name: string; text: string }[] = [];
  for (const s of statements) {
    let name = known && s.params?.length ? sqlStatementNames.get(s.text) : undefined;
    if (known && s.params?.length && !name && sqlStatementNames.size < MAX_PREPARED) sqlStatementNames.set(s.text, (name = `q${sqlStatementNames.size}`));
    if (!name) parts.push(inlineParams(s.text, s.params));
    else {
      if (!known!.has(name) && !prepare.some((p) => p.name === name)) prepare.push({ name, text: s.text });
      parts.push(`execute ${name}(${s.params!.map(sqlLiteral).join(', ')})`);
    }
    rows.push(parts.length - 1);
  }
  if (commit) parts.push('commit');
  return { text: parts.join(';\n'), rows, prepare };
}

/**
 * Whether a write is small enough to hold. A held write travels as literals in a simple-protocol
 * message, which PostgreSQL's lexer reads character by character: for a 1000-charge batch that
 * cost more (~10 ms) than the round trip it saves, so big writes go at once, as parameters.
 */
function fewValues(params: unknown[] | undefined): boolean {
  let n = 0;
  for (const p of params ?? []) n += Array.isArray(p) ? p.length : 1;
  return n <= MAX_HELD_VALUES;
}
const MAX_HELD_VALUES = 2000;

/** A transaction's state: whether `begin` went out, and the writes held for the next message. */
interface TxState {
  begun: boolean;
  held: Statement[];
}

export function openDb(databaseUrl: string, schema: string, max = Number(process.env.WALLETS_PG_POOL_MAX ?? 10), logger?: Logger): Db {
  // Plans (ADR 15): a statement is parsed once per connection and, after a few runs, planned once
  // (plan_cache_mode auto). A generic plan made while a table was empty (a new deployment, a fresh
  // benchmark schema) chose a sequential scan and kept it as the table grew (reserve groups 2.6 ->
  // 8 ms in 30 s, ADR 13); with sequential scans off, a plan reads by index wherever one fits,
  // whatever the table's size when it was made. Every statement here reads or writes a few rows by
  // key, so nothing needs a sequential scan where an index exists (a table without a usable index is
  // still scanned). Planning each run instead (force_custom_plan) cost a reserve group ~2 ms of 5.
  const pool = new pg.Pool({ connectionString: databaseUrl, max, options: `-c search_path="${schema}" -c random_page_cost=1.1 -c plan_cache_mode=auto -c enable_seqscan=off` });
  if (logger) logIdleConnectionErrors(pool, logger, 'wallets');
  else pool.on('error', () => undefined);
  /** Our SQL-level prepared statements on this connection (asked from PostgreSQL on first use and after a failed PREPARE). */
  async function preparedStatementsOf(client: pg.PoolClient): Promise<Set<string>> {
    let known = preparedOn.get(client);
    if (!known) {
      const names = (await client.query<{ name: string }>(`select name from pg_prepared_statements where name like 'q%'`)).rows;
      preparedOn.set(client, (known = new Set(names.map((r) => r.name))));
    }
    return known;
  }
  /** Sends statements in one message (see Sql.queries), `commit` after them when asked. */
  async function send(client: pg.PoolClient | pg.Pool, statements: readonly Statement[], begin: boolean, commit: boolean): Promise<Record<string, any>[][]> {
    // A pool hands each query to any connection: prepared statements only on one held connection.
    const known = client instanceof pg.Pool ? undefined : await preparedStatementsOf(client);
    const message = simpleMessage(statements, begin, commit, known);
    if (message.prepare.length > 0) {
      // In a message of their own (PostgreSQL keeps the text of the message that prepared a
      // statement, and a batch's literals would stay with it). Their parameter types are
      // inferred: our statements cast them.
      try {
        await (client as pg.PoolClient).query(message.prepare.map((p) => `prepare ${p.name} as ${p.text}`).join(';\n'));
      } catch (error) {
        // Which of them were prepared is not known (a PREPARE outlives a rollback): asked again next time.
        preparedOn.delete(client);
        throw error;
      }
      for (const p of message.prepare) known!.add(p.name);
    }
    const results = (await client.query(message.text)) as unknown as pg.QueryResult | pg.QueryResult[];
    const list = Array.isArray(results) ? results : [results];
    return message.rows.map((i) => list[i]!.rows);
  }
  /** A runner on one connection; `begin` (a transaction) is sent with its first statement(s). */
  const bind = (client: pg.PoolClient | pg.Pool, tx?: TxState): Sql => {
    /** Runs the held writes and these statements in one message; the rows of these statements. */
    async function withHeld(statements: readonly Statement[]): Promise<Record<string, any>[][]> {
      const held = tx ? tx.held.splice(0) : [];
      const begin = tx !== undefined && !tx.begun;
      if (tx) tx.begun = true;
      return (await send(client, [...held, ...statements], begin, false)).slice(held.length);
    }
    return {
      async query<R>(text: string, params?: unknown[]) {
        if (tx?.held.length) return (await withHeld([{ text, params }]))[0] as R[];
        if (tx && !tx.begun) {
          tx.begun = true;
          await client.query('begin');
        }
        return (await client.query(prepared(text, params))).rows as R[];
      },
      async queries(statements) {
        if (statements.length === 0) return [];
        return withHeld(statements);
      },
      async write(text, params) {
        if (tx && fewValues(params)) tx.held.push({ text, params });
        else await this.query(text, params);
      },
    };
  };
  return {
    pool,
    async tx(work) {
      const client = await pool.connect();
      const state: TxState = { begun: false, held: [] };
      try {
        const result = await work(bind(client, state));
        if (state.held.length > 0) {
          const begin = !state.begun;
          state.begun = true;
          // The held writes and the commit: one round trip.
          await send(client, state.held.splice(0), begin, true);
        } else if (state.begun) await client.query('commit');
        return result;
      } catch (error) {
        if (state.begun) await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    query: (text, params) => bind(pool).query(text, params),
    queries: (statements) => bind(pool).queries(statements),
    write: (text, params) => bind(pool).write(text, params),
    close: () => pool.end(),
  };
}

export interface OutboxRow {
  id: string;
  subject: string;
  payload: string;
  createdAt: Date;
}

/**
 * The statement that inserts outbox rows (a row already queued is kept), to run alone or with the
 * ledger writes (then set `sql.eventsQueued`). A row too large to publish throws EVENT_TOO_LARGE
 * here, before anything is written.
 */
export function outboxWrite(rows: OutboxRow[]): { text: string; params: unknown[] } {
  checkOutboxPayloads(rows);
  return {
    text: `insert into outbox (id, subject, payload, created_at, attempts)
     select * , 0 from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
     on conflict (id) do nothing`,
    params: [rows.map((r) => r.id), rows.map((r) => r.subject), rows.map((r) => r.payload), rows.map((r) => r.createdAt)],
  };
}

/**
 * Inserts outbox rows (the platform relay publishes any subject); a row already queued is kept, a
 * row whose id another event already has throws EVENT_ID_COLLISION (refuseEventIdCollisions). One
 * statement: the check reads the snapshot from before the insert, so it sees only rows queued
 * before.
 */
export async function insertOutbox(sql: Sql, rows: OutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  refuseEventIdCollisions(rows);
  const w = outboxWrite(rows);
  const clashes = await sql.query<{ id: string; subject: string }>(`with fresh as (${w.text}) ${EVENT_ID_CLASHES_SQL}`, w.params);
  refuseEventIdCollisions(rows, clashes);
  sql.eventsQueued = true;
}

export const WALLETS_SOURCE = 'ledgerline/wallets';

/** A CloudEvent outbox row for a registered event (the same envelope `enqueueEvent` writes). */
export function eventRow<T>(name: EventName, subject: string, key: string[], time: Date, data: T): OutboxRow {
  const def = EVENTS[name];
  const event = createCloudEvent({ source: WALLETS_SOURCE, type: def.type, subject, time, data, key });
  return { id: event.id, subject: def.subject, payload: JSON.stringify(event), createdAt: time };
}
