import { PortableMigration, type Knex } from '@ledgerline/platform';

/** Open card recharges (the jobs pass's sync and the /metrics gauges read them): few rows, found without a scan. */
export class Migration20261203300000_open_recharges_index extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`create index recharge_open_idx on recharge (created_at) where status in ('STARTING', 'STARTED')`];
  }
}
