import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `billing_account_change`, the audit trail of a billing account's terms (status, credit limit, autopay, partner): one
 * row per field a request changed, who (subject, role), when, from what to what, the request, numbered per account
 * (`seq`). The partner's trail (`billing_account_partner_change`, 2027-01-29) is moved into it, row for row (field
 * PARTNER, `seq` and `version` its partner_version: they were the only rows, one per account and version), and
 * dropped. Changes made before this migration to anything but the partner were not recorded and are not invented
 * here. Same SQL on PostgreSQL and SQLite.
 */
export class Migration20270131000000_billing_account_change extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.createTable('billing_account_change', (t) => {
          t.string('id', 40).primary();
          t.string('billing_account_id', 40).notNullable().references('id').inTable('billing_account');
          t.integer('seq').notNullable();
          t.string('field', 32).notNullable();
          t.string('old_value', 200).nullable();
          t.string('new_value', 200).nullable();
          t.integer('version').nullable();
          t.string('changed_by', 200).notNullable();
          t.string('changed_by_role', 16).notNullable();
          t.timestamp('changed_at', { useTz: true }).notNullable();
          t.string('via_account_id', 40).nullable();
          t.string('request_key', 200).nullable();
          t.string('reason', 300).nullable();
          t.unique(['billing_account_id', 'seq']);
          // NULL versions (every field but PARTNER) are distinct on both dialects: one row per account and partner version.
          t.unique(['billing_account_id', 'field', 'version']);
          t.index(['billing_account_id', 'field', 'seq']);
        }),
      ),
      `insert into billing_account_change (id, billing_account_id, seq, field, old_value, new_value, version, changed_by, changed_by_role, changed_at, via_account_id, request_key, reason)
       select id, billing_account_id, partner_version, 'PARTNER', previous_partner_id, partner_id, partner_version, changed_by, changed_by_role, changed_at, via_account_id, null, null
       from billing_account_partner_change`,
      ...schemaSql(knex.schema.dropTable('billing_account_partner_change')),
    ];
  }
}
