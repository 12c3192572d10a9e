import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * How many dunnings an invoice has had. A refund that makes a paid invoice owe again re-arms it
 * (`dunning_started_at` back to null) and the due-date job starts the next one under its own id
 * (`dunning-<invoiceId>-<n>`, see ports/dunning.ts); payments signal the newest. Invoices dunned
 * before have had one.
 */
export class Migration20261204000001_dunning_runs extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return ['alter table invoice add column dunning_runs integer not null default 0', 'update invoice set dunning_runs = 1 where dunning_started_at is not null'];
  }
}
