import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

export class Migration20261126000100_upsell_offers extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.createTable('upsell_offer', (t) => {
        t.string('id', 40).primary();
        t.string('line_id', 40).notNullable().references('id').inTable('line');
        t.string('billing_account_id', 40).notNullable();
        t.string('offer_code', 80).notNullable();
        t.string('offer_name', 200).notNullable();
        t.decimal('price', 18, 4).notNullable();
        t.string('currency', 3).notNullable();
        t.string('period', 16).notNullable();
        t.string('rule', 120).notNullable();
        t.string('state', 16).notNullable();
        t.string('reason', 200).nullable();
        t.timestamp('expires_at', { useTz: true }).notNullable();
        t.string('order_id', 40).nullable();
        t.timestamp('reminded_at', { useTz: true }).nullable();
        t.timestamp('responded_at', { useTz: true }).nullable();
        t.timestamp('created_at', { useTz: true }).notNullable();
        t.index(['line_id', 'created_at']);
      }),
    );
  }
}
