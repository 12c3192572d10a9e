import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * An invoice's autopay attempts are numbered: 1 on the due date, 2 for the rest of an invoice whose
 * first attempt charged only its undisputed part (held for a dispute) once the dispute released it
 * with money still owed (provider key `autopay:<invoiceId>:released`). `amount_disputed` is what the
 * first attempt left to the dispute (null: it charged everything owed). Existing rows are attempt 1.
 */
export class Migration20270111000000_autopay_released_attempt extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table autopay_attempt add column attempt smallint not null default 1',
      'alter table autopay_attempt add column amount_disputed numeric(18, 4) null',
      'alter table autopay_attempt drop constraint autopay_attempt_pkey',
      'alter table autopay_attempt add primary key (invoice_id, attempt)',
    ];
  }
}
