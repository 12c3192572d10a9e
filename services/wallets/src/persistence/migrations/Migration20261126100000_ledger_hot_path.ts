import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The charging hot path inserts two ledger entries per charge, thousands per batch. The two
 * foreign keys on ledger_entry cost a row-level trigger each per entry (measured: ~100 of 140 ms
 * for 2,000 entries), so they go: `postTransactions` writes a transaction's entries in the same
 * statement as the transaction and fails the whole write when an account does not exist, entries
 * cannot be updated or deleted (trigger), and the invariant checker verifies after every
 * integration test that every entry has its account and its transaction.
 */
export class Migration20261126100000_ledger_hot_path extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table ledger_entry drop constraint if exists ledger_entry_transaction_id_fkey`,
      `alter table ledger_entry drop constraint if exists ledger_entry_account_id_fkey`,
      // A ledger transaction is never deleted once it has entries (nor any other time).
      `create or replace function ledger_transaction_no_delete() returns trigger language plpgsql as $$
        begin raise exception 'ledger transactions are never deleted'; end $$`,
      `create trigger ledger_transaction_no_delete before delete on ledger_transaction for each row execute function ledger_transaction_no_delete()`,
    ];
  }
}
