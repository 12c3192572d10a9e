/**
 * The hot path talks to PostgreSQL with plain `pg` and multi-row statements (the ORM unit of work
 * is ~50x slower per row). One pool per service instance, on the service's own schema.
 */
import pg from 'pg';
import { arrayParam, ConfigError, logIdleConnectionErrors, type ServiceRuntime } from '@ledgerline/platform';

export type Sql = pg.Pool;
export type SqlClient = pg.PoolClient;
type Queryable = Pick<pg.PoolClient, 'query'>;

export function openSqlPool(runtime: ServiceRuntime, max = 4): Sql {
  const { databaseUrl, databaseSchema } = runtime.config;
  if (!databaseUrl) throw new ConfigError('DATABASE_URL', 'the usage service rates on PostgreSQL; set DATABASE_URL (SQLite is not supported for usage ingestion)');
  const pool = new pg.Pool({ connectionString: databaseUrl, max, options: `-c search_path="${databaseSchema}"` });
  logIdleConnectionErrors(pool, runtime.logger, 'usage');
  return pool;
}

export async function inSqlTransaction<T>(pool: Sql, work: (client: SqlClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * `insert into <table> (<columns>) select ... from json_populate_recordset(null::<table>, $1)`:
 * one JSON parameter for the whole batch. About twice as fast as a multi-row VALUES list with
 * tens of thousands of parameters on a wide table. jsonb columns take nested JSON values.
 */
export async function insertJsonRows<R = Record<string, unknown>>(db: Queryable, table: string, columns: readonly string[], rows: Record<string, unknown>[], suffix = ''): Promise<R[]> {
  if (rows.length === 0) return [];
  const list = columns.join(',');
  const result = await db.query(`insert into ${table} (${list}) select ${list} from json_populate_recordset(null::${table}, $1) ${suffix}`, [JSON.stringify(rows)]);
  return (result.rows ?? []) as R[];
}

/**
 * `insert into <table> (<columns>) select * from unnest($1::<type>[], $2::<type>[], ...)`: one
 * array parameter per column, whatever the number of rows (no JSON for PostgreSQL to parse), each
 * written as its literal by arrayParam. `types` are the columns' PostgreSQL types in the same
 * order. Values are strings, numbers, booleans, Dates or null; other objects are stored as their
 * JSON text.
 */
export async function insertArrayRows<R = Record<string, unknown>>(
  db: Queryable, table: string, columns: readonly string[], types: readonly string[], rows: unknown[][], suffix = '',
  /** The statement around the insert (e.g. `with ins as (<insert> returning …) … select … from ins`). */
  wrap: (insert: string) => string = (insert) => insert,
): Promise<R[]> {
  if (rows.length === 0) return [];
  const literals: unknown[] = new Array(columns.length);
  for (let c = 0; c < columns.length; c++) {
    const column: unknown[] = new Array(rows.length);
    for (let r = 0; r < rows.length; r++) column[r] = rows[r][c];
    literals[c] = arrayParam(column);
  }
  const casts = types.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
  const result = await db.query(wrap(`insert into ${table} (${columns.join(',')}) select * from unnest(${casts}) ${suffix}`), literals);
  return (result.rows ?? []) as R[];
}

/**
 * The lines that ever belonged to billing account `$1` (from the read model). usage_record has no
 * index by account (one index less on the hot path): account queries go through the account's
 * lines and the (line_id, occurred_at) index, then filter on billing_account_id.
 */
export const ACCOUNT_LINES = '(select line_id from subscription_version where billing_account_id = $1 union select line_id from line_state where billing_account_id = $1)';

/**
 * A record's charge status as readers see it (migration …215000000_charge_outcomes): a ChargeResult
 * no longer updates usage_record, it inserts charge_outcome, so the status is the outcome there,
 * else what the record was stored with (PENDING, NONE, or APPLIED for an online session's record
 * charged in place). `r` is usage_record's alias; the outcome is looked up by primary key. The same
 * holds for amount_charged / units_from_allowances / granted_units (`coalesce(outcome's, record's)`,
 * as live-usage.ts, rerate-period.ts and the UsageRecord entity read them): a re-rate and its
 * adjustment's settlement write them to both tables alike, so where an outcome exists the record's
 * columns are null or the same.
 */
export const CHARGE_STATUS_OF = (r: string) => `coalesce((select o.outcome from charge_outcome o where o.usage_record_id = ${r}.id), ${r}.charge_status)`;
