import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * No query reads ledger transactions by account (an account's history is its entries, by
 * `ledger_entry_account_idx`), yet every charge paid for this index: one B-tree insert per
 * transaction on the charging hot path. Dropped; the column stays.
 */
export class Migration20261129100000_ledger_transaction_account_index extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`drop index if exists ledger_transaction_account_idx`];
  }
}
