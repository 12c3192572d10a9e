import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The billing account's IANA time zone, from subscribers' billingaccount.created (recorded with the
 * account's owner): auto top-up daily and monthly limits count the customer's local day and month.
 * Null for accounts recorded before this, or whose event had no valid zone: their limits count UTC
 * days and months, as all did before.
 */
export class Migration20261204000000_account_timezone extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`alter table account_owner add column timezone varchar(64) null`];
  }
}
