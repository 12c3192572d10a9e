import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Sink accounts (REVENUE, ALLOWANCE_USED) keep no balance: null, their balance being the sum of
 * their entries (ADR 0018). Every charge credited one, and updating its balance was half the
 * account updates of a charge batch, for a figure no decision reads.
 */
export class Migration20261205100000_sink_accounts_keep_no_balance extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table ledger_account alter column balance drop not null`,
      `update ledger_account set balance = null where kind in ('REVENUE', 'ALLOWANCE_USED')`,
    ];
  }
}
