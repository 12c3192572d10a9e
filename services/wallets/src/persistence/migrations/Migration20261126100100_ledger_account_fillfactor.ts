import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Every charge updates two ledger_account rows (the balance). With free room on each page those
 * updates are HOT (no index entries written: the balance is not indexed); full pages force a new
 * index entry in both indexes per update.
 */
export class Migration20261126100100_ledger_account_fillfactor extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`alter table ledger_account set (fillfactor = 70)`];
  }
}
