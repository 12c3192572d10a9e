import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A bill run may start before every account's period has ended in the account's own time zone
 * (from UTC+14). A batch with such accounts is WAITING: it bills the others, counts the accounts
 * still to bill (`waiting`) and when the first of their periods ends (`wait_until`); it is billed
 * again from then on (the service's runner, or the same cycle date started again).
 */
export class Migration20261203000000_bill_run_waiting extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table bill_run_batch add column waiting integer not null default 0',
      'alter table bill_run_batch add column wait_until timestamptz null',
      `create index bill_run_batch_waiting on bill_run_batch (bill_run_id, wait_until) where state = 'WAITING'`,
    ];
  }
}
