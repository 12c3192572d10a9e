import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * One-off charges of prepaid accounts (a starter-pack fee at activation) that the balance did not
 * cover when they came: each waits here, open, until a top-up pays it (oldest first); then it
 * keeps the ledger transaction that took it. One row per one-off charge id, ever.
 */
export class Migration20261129000000_due_charges extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table due_charge (
        id text primary key,
        billing_account_id varchar(40) not null,
        line_id text null,
        reason varchar(40) not null,
        description text not null,
        amount numeric(20,6) not null,
        currency varchar(3) not null,
        created_at timestamptz not null,
        settled_at timestamptz null,
        transaction_id text null
      )`,
      `create index due_charge_account_idx on due_charge (billing_account_id, created_at)`,
    ];
  }
}
