/**
 * `ledgerline ledger check` runs the wallets ledger invariants (the ones every integration test
 * runs afterwards) against a live wallets database, as an operator would: the CLI as users run it
 * (services/cli/bin/ledgerline.mjs), DATABASE_URL and WALLETS_DB_SCHEMA pointing at a wallets
 * service's schema on the real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL, type TestService } from '@ledgerline/platform';
import { dbOf, openPrepaid, startWallets } from '../../wallets/test/support';
import { LEDGER_CHECKS } from '../../wallets/src/persistence/invariants';
import { runCli, type CliRun } from './cli-process';

let svc: TestService;
/** The run without DATABASE_URL needs no database: it goes while the wallets service starts. */
let withoutDatabaseUrl: Promise<CliRun>;
beforeAll(async () => {
  withoutDatabaseUrl = cli({ DATABASE_URL: '' }, 'ledger', 'check');
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());

const cli = (env: Record<string, string>, ...args: string[]) => runCli(args, { ...process.env, ...env });

describe('ledgerline ledger check', () => {
  it('reports every invariant holding (exit 0), then names the account whose balance is not the sum of its entries (exit 1)', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '25.00' });
    const env = { DATABASE_URL: TEST_DATABASE_URL, WALLETS_DB_SCHEMA: svc.schema };
    const fine = await cli(env, 'ledger', 'check');
    expect(fine.stdout).toContain(`ledger ${svc.schema}: ${LEDGER_CHECKS.length} of ${LEDGER_CHECKS.length} invariants hold`);
    expect(fine.status).toBe(0);

    await dbOf(svc).query(`update ledger_account set balance = balance + 1 where id = $1`, [walletId]);
    try {
      const broken = await cli(env, 'ledger', 'check');
      expect(broken.stdout).toMatch(/FAILED every kept account balance equals the sum of its entries: .*/);
      expect(broken.stdout).toContain(walletId);
      expect(broken.stdout).toContain(`${LEDGER_CHECKS.length - 1} of ${LEDGER_CHECKS.length} invariants hold`);
      expect(broken.status).toBe(1);
    } finally {
      await dbOf(svc).query(`update ledger_account set balance = balance - 1 where id = $1`, [walletId]);
    }
  });

  it('without DATABASE_URL it says what is missing (exit 1)', async () => {
    const r = await withoutDatabaseUrl;
    expect(r.stderr).toContain('DATABASE_URL is not set');
    expect(r.status).toBe(1);
  });
});
