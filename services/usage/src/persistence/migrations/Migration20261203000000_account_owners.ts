import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Which customer owns each billing account (subscribers' billingaccount events, consumer `owners`):
 * a CUSTOMER reads the usage of their own accounts only. Accounts opened before this have no row
 * until the `owners` durable, new with this migration, has read the stream from its start.
 */
export class Migration20261203000000_account_owners extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.createTable('account_owner', (t) => {
        t.string('billing_account_id', 40).primary();
        t.string('customer_id', 40).notNullable();
        t.timestamp('updated_at', { useTz: true }).notNullable();
        t.index(['customer_id']);
      }),
    );
  }
}
