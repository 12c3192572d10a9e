import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `collections_hold.resume_order_id`: the latest attempt of the RESUME a hold's lift placed (as
 * `bar_order_id` is the latest attempt of its BAR). A bar or resumption the network refuses fails
 * its order; the placement or lift asked again with its key places a new attempt (keyed after the
 * refused one) instead of replaying the refusal (application/collections-holds.ts). Same SQL on
 * PostgreSQL and SQLite; existing rows stay null (their resumption is found by the lift's key).
 */
export class Migration20261218000000_collections_hold_resume_order extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('collections_hold', (t) => {
        t.string('resume_order_id', 40).nullable();
      }),
    );
  }
}
