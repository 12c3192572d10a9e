import { Command, Option } from 'commander';
import { ROLES } from '@ledgerline/contracts';
import { signToken } from '@ledgerline/gateway/auth';
import { registerCatalogCommands } from './catalog';
import { registerBillRunCommands } from './billrun';
import { registerBillCycleCommands } from './billcycle';
import { registerUsageCommands } from './usage';
import { registerLedgerCommands } from './ledger';

/**
 * The `ledgerline` command tree, built without running anything (main.ts parses argv with it;
 * test/architecture/docs-config.test.ts checks every command and flag the docs show against it).
 */
export function buildProgram(): Command {
  const program = new Command('ledgerline').description('Ledgerline command line: tokens, catalog, usage import, bill runs, bill-cycle backfill, ledger check.');

  program
    .command('token')
    .description('Print a development JWT for the gateway (HS256, JWT_SECRET or the development secret).')
    .addOption(new Option('--role <role>', 'caller role').choices([...ROLES]).makeOptionMandatory())
    .option('--customer <id>', 'customer id the caller acts for (CUSTOMER role)')
    .option('--partner <id>', 'partner id (PARTNER role)')
    .option('--subject <sub>', 'token subject')
    .option('--scopes <scopes>', 'space-separated scopes', '')
    .option('--expires-in <duration>', 'lifetime, e.g. 12h', '12h')
    .action(async (o: { role: (typeof ROLES)[number]; customer?: string; partner?: string; subject?: string; scopes: string; expiresIn: string }) => {
      if (o.role === 'CUSTOMER' && !o.customer) program.error('--customer <id> is required for a CUSTOMER token');
      const token = await signToken(
        { role: o.role, customerId: o.customer, partnerId: o.partner, subject: o.subject, scopes: o.scopes.split(' ').filter(Boolean), expiresIn: o.expiresIn },
        process.env.JWT_SECRET,
      );
      process.stdout.write(`${token}\n`);
    });

  registerCatalogCommands(program);
  registerBillRunCommands(program);
  registerBillCycleCommands(program);
  registerUsageCommands(program);
  registerLedgerCommands(program);
  return program;
}
