import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The in-process order saga's lease (application/order-saga.ts): who runs an order's saga
 * (`saga_owner`, a token per run) and until when (`saga_lease_until`, renewed while it runs), the
 * failure it decided on but could not yet record (`saga_failure`), and whether a FAILED order's
 * network still has to be undone (`saga_compensate`). The recovery sweep finds orders whose saga
 * died through the partial index. Same SQL on PostgreSQL and SQLite; existing rows need nothing
 * (no lease: an IN_PROGRESS order left by a process that died before this migration is resumed).
 */
export class Migration20261216000000_order_saga_lease extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('product_order', (t) => {
          t.string('saga_owner', 40).nullable();
          t.timestamp('saga_lease_until', { useTz: true }).nullable();
          t.text('saga_failure').nullable();
          t.boolean('saga_compensate').notNullable().defaultTo(false);
        }),
      ),
      `create index product_order_saga_due on product_order (created_at) where status in ('ACKNOWLEDGED', 'IN_PROGRESS') or saga_compensate`,
    ];
  }
}
