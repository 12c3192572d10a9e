import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * What a dispute gives back while it stays open — a staff hold lowered (`disputeInvoice`), a re-rate
 * crediting part of it on the next invoice — is recorded as a release of that dispute (`dispute_release`,
 * numbered 1, 2, … per dispute): due again on its invoice, autopay charges each once. An autopay
 * attempt names the release it charges (`release_seq`; 0: the dispute's closing, as every existing row),
 * unique per invoice, dispute and release (it was per invoice and dispute: one release per dispute).
 */
export class Migration20270114000000_dispute_release extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table dispute_release (
         dispute_id varchar(40) not null,
         seq smallint not null check (seq > 0),
         amount numeric(18,4) not null check (amount > 0),
         reason varchar(500) not null,
         released_at timestamptz not null,
         primary key (dispute_id, seq)
       )`,
      'alter table autopay_attempt add column release_seq smallint not null default 0',
      'drop index autopay_attempt_dispute',
      'create unique index autopay_attempt_dispute on autopay_attempt (invoice_id, dispute_id, release_seq) where dispute_id is not null',
    ];
  }
}
