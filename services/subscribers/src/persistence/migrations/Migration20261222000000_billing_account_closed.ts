import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A billing account can be closed (`closeBillingAccount`, the customer leaves): `status` OPEN or
 * CLOSED, `closed_at` (the end of its final billing period, what `billingaccount.closed` carries),
 * `closed_reason`, and `closed_key` (the close request's idempotency key: the same key again is
 * answered as the first time). Same SQL on PostgreSQL and SQLite; existing accounts are OPEN.
 */
export class Migration20261222000000_billing_account_closed extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('billing_account', (t) => {
        t.string('status', 16).notNullable().defaultTo('OPEN');
        t.timestamp('closed_at', { useTz: true }).nullable();
        t.string('closed_reason', 300).nullable();
        t.string('closed_key', 200).nullable();
      }),
    );
  }
}
