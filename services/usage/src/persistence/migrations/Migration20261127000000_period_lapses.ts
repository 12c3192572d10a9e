import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';

/**
 * A late renewal's lapse: where the subscription's last paid period had ended before the restart
 * (wallets' bundle.renewed `lapsedAt`). It had no allowances in between, so it did not keep its
 * account's shared pool going then (see poolPeriodAt).
 */
export class Migration20261127000000_period_lapses extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return schemaSql(
      knex.schema.alterTable('period_anchor', (t) => {
        t.timestamp('lapsed_at', { useTz: true }).nullable();
      }),
    );
  }
}
