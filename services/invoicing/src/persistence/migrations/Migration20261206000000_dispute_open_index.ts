import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Open disputes by status and review deadline: the /metrics gauges (open disputes by status, those
 * IN_REVIEW past `review_due_at`) are read at every scrape and read only this index, however many
 * closed disputes the table holds.
 */
export class Migration20261206000000_dispute_open_index extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`create index dispute_open_status_due on dispute (status, review_due_at) where status in ('OPEN', 'IN_REVIEW')`];
  }
}
