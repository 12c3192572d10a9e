import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * Where a subscription's paid allowance periods lapsed (wallets' bundle.feedue: the balance did
 * not cover the recurring fee) and where they resumed (bundle.renewed `lapsedAt` → `anchorAt`, the
 * late renewal). It had no allowances in between, so it did not keep its account's shared pool
 * going then (see poolPeriodAt).
 */
export class Migration20261127000000_period_lapses extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.createTable('period_lapse', (t) => {
        t.string('subscription_id', 40).notNullable();
        t.timestamp('lapsed_at', { useTz: true }).notNullable();
        t.timestamp('resumed_at', { useTz: true }).nullable();
        t.string('line_id', 40).notNullable();
        t.primary(['subscription_id', 'lapsed_at']);
      }),
    );
  }
}
