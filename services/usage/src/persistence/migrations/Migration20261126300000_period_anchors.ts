import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Where a subscription's allowance periods run from when wallets restarted them (a prepaid renewal
 * late for want of balance starts the next period at the top-up): from wallets' bundle.renewed.
 */
export class Migration20261126300000_period_anchors extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.createTable('period_anchor', (t) => {
        t.string('subscription_id', 40).notNullable();
        t.timestamp('anchor_at', { useTz: true }).notNullable();
        t.string('line_id', 40).notNullable();
        t.primary(['subscription_id', 'anchor_at']);
        t.index(['line_id']);
      }),
    );
  }
}
