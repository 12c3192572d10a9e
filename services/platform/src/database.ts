import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { MikroORM as PostgresOrm } from '@mikro-orm/postgresql';
import { MikroORM as SqliteOrm } from '@mikro-orm/better-sqlite';
import { Migrator } from '@mikro-orm/migrations';
import type { EntityManager, MikroORM, AbstractSqlDriver, Knex } from '@mikro-orm/knex';
import { Migration } from '@mikro-orm/migrations';
import type { EntitySchema, MigrationObject } from '@mikro-orm/core';
import { ConfigError } from './config';
import { OutboxMessage } from './outbox-entity';

export type Orm = MikroORM<AbstractSqlDriver>;
export type Em = EntityManager;
export type { Knex };

export interface DatabaseOptions {
  service: string;
  databaseUrl?: string;
  /** PostgreSQL schema of this service. */
  schema: string;
  sqlitePath: string;
  entities: EntitySchema<any, any>[];
  migrations: MigrationObject[];
  debug?: boolean;
}

export type Dialect = 'postgresql' | 'sqlite';

export function dialectOf(orm: Orm): Dialect {
  return orm.config.get('driver')?.name === 'PostgreSqlDriver' || orm.em.getPlatform().constructor.name.startsWith('PostgreSql') ? 'postgresql' : 'sqlite';
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Creates the service's schema, so one PostgreSQL server can host every service apart. */
async function ensurePostgresSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new ConfigError('DB schema', `"${schema}" is not a valid schema name`);
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    const url = new URL(databaseUrl);
    throw new ConfigError('DATABASE_URL', `cannot connect to PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname} (${(error as Error).message})`);
  }
  try {
    await client.query(`create schema if not exists "${schema}"`);
  } catch (error) {
    // Two services creating their schema at once can race on the catalog; the schema exists either way.
    if (!/already exists|duplicate key/.test((error as Error).message)) throw error;
  } finally {
    await client.end();
  }
}

/**
 * Opens the service's database and brings it to the latest migration. PostgreSQL when a URL is
 * given (each service in its own schema), otherwise an embedded SQLite file: the same entities and
 * the same migrations run on both, because migrations are written with the portable schema builder.
 */
export async function openDatabase(options: DatabaseOptions): Promise<Orm> {
  const common = {
    entities: [...options.entities, OutboxMessage],
    debug: options.debug ?? false,
    allowGlobalContext: false,
    extensions: [Migrator],
    migrations: { migrationsList: options.migrations, transactional: true, allOrNothing: true, snapshot: false, silent: true },
    discovery: { warnWhenNoEntities: false },
  };
  let orm: Orm;
  if (options.databaseUrl) {
    await ensurePostgresSchema(options.databaseUrl, options.schema);
    const schema = options.schema;
    orm = (await PostgresOrm.init({
      ...common,
      clientUrl: options.databaseUrl,
      schema,
      pool: {
        min: 0,
        max: Number(process.env.DB_POOL_MAX ?? 10),
        afterCreate(conn: { query(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) {
          conn.query(`set search_path to "${schema}"`, (err) => done(err, conn));
        },
      },
    })) as unknown as Orm;
  } else {
    fs.mkdirSync(path.dirname(options.sqlitePath), { recursive: true });
    orm = (await SqliteOrm.init({ ...common, dbName: options.sqlitePath })) as unknown as Orm;
    // WAL lets the outbox relay read while a use case writes.
    await orm.em.getConnection().execute('pragma journal_mode = wal');
    await orm.em.getConnection().execute('pragma busy_timeout = 5000');
  }
  await migrateUp(orm);
  return orm;
}

/**
 * The migrator lists the tables of every schema on the server first (MikroORM's introspection of
 * information_schema, each table cast to regclass); a schema another client drops at that moment
 * (tests, a tenant removed) fails that listing with "schema … does not exist". Nothing has been
 * migrated then (migrations run after it, all or nothing), so it is tried again.
 */
export async function migrateUp(orm: Pick<Orm, 'getMigrator'>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await orm.getMigrator().up();
      return;
    } catch (error) {
      const message = (error as Error).message ?? '';
      const listingRaced = /information_schema\.tables/.test(message) && /(schema|relation) "[^"]+" does not exist/.test(message);
      if (!listingRaced || attempt >= 3) throw error;
    }
  }
}

/** Runs `work` in one database transaction with a fresh entity manager. */
export async function inTransaction<T>(orm: Orm, work: (em: Em) => Promise<T>): Promise<T> {
  return orm.em.fork().transactional((em) => work(em as Em));
}

/** Translates knex schema-builder statements into migration SQL, whatever the dialect. */
export function schemaSql(builder: Knex.SchemaBuilder): string[] {
  return builder.toSQL().map((q: { sql: string }) => q.sql);
}

/**
 * A migration built with the portable schema builder (or plain SQL where a step is one dialect's
 * only): subclasses list their statements, the same class runs on PostgreSQL and SQLite.
 */
export abstract class PortableMigration extends Migration {
  protected abstract statements(knex: Knex): string[];

  override up(): void {
    for (const sql of this.statements(this.getKnex() as Knex)) this.addSql(sql);
  }
}
