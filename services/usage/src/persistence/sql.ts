/**
 * The hot path talks to PostgreSQL with plain `pg` and multi-row statements (the ORM unit of work
 * is ~50x slower per row). One pool per service instance, on the service's own schema.
 */
import pg from 'pg';
import { ConfigError, type ServiceRuntime } from '@ledgerline/platform';

export type Sql = pg.Pool;
export type SqlClient = pg.PoolClient;
type Queryable = Pick<pg.PoolClient, 'query'>;

export function openSqlPool(runtime: ServiceRuntime, max = 4): Sql {
  const { databaseUrl, databaseSchema } = runtime.config;
  if (!databaseUrl) throw new ConfigError('DATABASE_URL', 'the usage service rates on PostgreSQL; set DATABASE_URL (SQLite is not supported for usage ingestion)');
  return new pg.Pool({ connectionString: databaseUrl, max, options: `-c search_path="${databaseSchema}"` });
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
 * `insert into <table> (<columns>) values (...), (...) <suffix>` in chunks that stay under
 * PostgreSQL's 65,535 parameters. Returns the rows of `returning`, if the suffix has one.
 */
export async function insertRows<R = Record<string, unknown>>(db: Queryable, table: string, columns: readonly string[], rows: unknown[][], suffix = ''): Promise<R[]> {
  const out: R[] = [];
  const perChunk = Math.max(1, Math.floor(60_000 / columns.length));
  for (let start = 0; start < rows.length; start += perChunk) {
    const chunk = rows.slice(start, start + perChunk);
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const row of chunk) {
      const marks: string[] = [];
      for (const value of row) {
        params.push(value);
        marks.push(`$${params.length}`);
      }
      tuples.push(`(${marks.join(',')})`);
    }
    const result = await db.query(`insert into ${table} (${columns.join(',')}) values ${tuples.join(',')} ${suffix}`, params);
    if (result.rows) out.push(...(result.rows as R[]));
  }
  return out;
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
