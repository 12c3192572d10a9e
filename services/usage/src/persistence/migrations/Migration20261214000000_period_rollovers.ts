import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Units wallets rolled over into an allowance period (bundle.renewed `rollover`), counted in the
 * allowance's size for live usage. `owner`: the line id, or `pool:<account>|<planVersion>` for a
 * shared pool (the owners of the counters, see CounterStore); `period_start`: the period wallets
 * opened (usage finds the rows whose start falls in its period).
 */
export class Migration20261214000000_period_rollovers extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.createTable('period_rollover', (t) => {
        t.string('owner', 100).notNullable();
        t.string('allowance_id', 64).notNullable();
        t.timestamp('period_start', { useTz: true }).notNullable();
        t.decimal('quantity', 20, 6).notNullable();
        t.string('subscription_id', 40).notNullable();
        t.primary(['owner', 'allowance_id', 'period_start']);
      }),
    );
  }
}
