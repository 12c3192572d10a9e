import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * An account's partner changes after it was opened (`updateBillingAccount` `partnerId`, staff):
 * `billing_account.partner_version` (0 as opened, one more per change; billingaccount.created and .changed carry it
 * so usage keeps the newest assignment whatever order they arrive in; existing accounts are version 0) and
 * `billing_account_partner_change`, the audit trail (who changed it, when, from what to what; one row per account
 * and version). Same SQL on PostgreSQL and SQLite.
 */
export class Migration20270129000000_billing_account_partner_change extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('billing_account', (t) => {
          t.integer('partner_version').notNullable().defaultTo(0);
        }),
      ),
      ...schemaSql(
        knex.schema.createTable('billing_account_partner_change', (t) => {
          t.string('id', 40).primary();
          t.string('billing_account_id', 40).notNullable().references('id').inTable('billing_account');
          t.integer('partner_version').notNullable();
          t.string('previous_partner_id', 100).nullable();
          t.string('partner_id', 100).nullable();
          t.string('changed_by', 200).notNullable();
          t.string('changed_by_role', 16).notNullable();
          t.timestamp('changed_at', { useTz: true }).notNullable();
          t.string('via_account_id', 40).nullable();
          t.unique(['billing_account_id', 'partner_version']);
        }),
      ),
    ];
  }
}
