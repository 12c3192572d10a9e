import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * A record of an online session's later report keeps the units of the same session (one call)
 * rated before it: rating applies the tariff's increments to the call's running total, so the
 * record is charged what it adds to the call's chargeable units (rating's `precedingQuantity`), and
 * a re-rate rates it the same way. Null for every other record (a call of its own), and for session
 * records from before this (each was rated on its own). Nullable, no default: adding it rewrites nothing.
 */
export class Migration20261222000000_record_preceding_quantity extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('usage_record', (t) => {
          t.decimal('preceding_quantity', 20, 6);
        }),
      ),
    ];
  }
}
