import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `product_order.network_undone_by` and `network_undone_note`: who confirmed a FAILED order undone at the network
 * by hand (staff, `confirmOrderNetworkUndone`: "<role>:<subject>") and what they said (a ticket, what was done), the
 * audit of a confirmation that releases a held-back number. Null when the saga or the workflow confirmed it (their
 * compensation returned), and for every order before. Same SQL on PostgreSQL and SQLite.
 */
export class Migration20270203000100_order_network_undone_by extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('product_order', (t) => {
        t.string('network_undone_by', 200).nullable();
        t.string('network_undone_note', 500).nullable();
      }),
    );
  }
}
