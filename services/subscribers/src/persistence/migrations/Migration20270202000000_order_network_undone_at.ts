import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `product_order.network_undone_at`: when the network confirmed a FAILED order undone. A line whose
 * activation failed without it may have had its number live at the network, so its number is
 * quarantined when the line is cancelled (`addLine`). Orders failed before are taken as undone
 * (the behaviour they had): those the in-process saga has no compensation left for, and the
 * workflow's (its compensation is retried until it goes through). An order whose saga is still to
 * compensate gets it when that is done. Same SQL on PostgreSQL and SQLite.
 */
export class Migration20270202000000_order_network_undone_at extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('product_order', (t) => {
          t.timestamp('network_undone_at', { useTz: true }).nullable();
        }),
      ),
      `update product_order set network_undone_at = updated_at where status = 'FAILED' and saga_compensate = false`,
    ];
  }
}
