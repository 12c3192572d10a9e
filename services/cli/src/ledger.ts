import type { Command } from 'commander';

/**
 * `ledgerline ledger check`: the invariants the integration tests run after every test (every
 * transaction sums to zero, every kept balance is the sum of its entries, no prepaid wallet below
 * its floor, …), against a live wallets database: DATABASE_URL and the wallets schema as the
 * service reads them (WALLETS_DB_SCHEMA, DB_SCHEMA_PREFIX). Read-only; exit code 1 when one fails.
 */
export function registerLedgerCommands(program: Command): void {
  const ledger = program.command('ledger').description('The wallets ledger.');
  ledger
    .command('check')
    .description('Check the ledger invariants against the wallets database (read-only); exit code 1 if any fails.')
    .action(async () => {
      // Loaded when run, so other commands start without the platform and the wallets SQL.
      const { loadServiceConfig } = await import('@ledgerline/platform');
      const { openDb } = await import('../../wallets/src/persistence/sql');
      const { LEDGER_CHECKS, checkLedgerInvariants } = await import('../../wallets/src/persistence/invariants');
      const config = loadServiceConfig('wallets');
      if (!config.databaseUrl) throw new Error('DATABASE_URL is not set: the wallets ledger is in PostgreSQL');
      const db = openDb(config.databaseUrl, config.databaseSchema, 1);
      try {
        const problems = await checkLedgerInvariants(db);
        for (const p of problems) process.stdout.write(`FAILED ${p}\n`);
        process.stdout.write(`ledger ${config.databaseSchema}: ${LEDGER_CHECKS.length - problems.length} of ${LEDGER_CHECKS.length} invariants hold\n`);
        if (problems.length > 0) process.exitCode = 1;
      } finally {
        await db.close();
      }
    });
}
