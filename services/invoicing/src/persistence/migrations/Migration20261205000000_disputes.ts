import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Disputes (notes/dispute-contract.md): one row per dispute on an issued invoice, a line of it or a
 * rated usage record (kept as evidence), OPEN → IN_REVIEW → ACCEPTED | REJECTED | WITHDRAWN. An open
 * dispute's amount is part of invoice.amount_disputed (the hold). Idempotent per account and key;
 * `workflow_started_at` null: the due-date job starts its workflow.
 */
export class Migration20261205000000_disputes extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table dispute (
         id varchar(40) primary key,
         invoice_id varchar(40) not null,
         billing_account_id varchar(40) not null,
         invoice_line_id varchar(40) null,
         usage_record_id varchar(80) null,
         amount numeric(18,4) not null check (amount > 0),
         currency varchar(3) not null,
         reason varchar(1000) not null,
         status varchar(16) not null,
         escalation_level integer not null default 0,
         assessment jsonb null,
         credited_amount numeric(18,4) null,
         credit_note_id varchar(40) null,
         opened_by varchar(200) null,
         decided_by varchar(200) null,
         decision_note varchar(2000) null,
         review_due_at timestamptz null,
         workflow_started_at timestamptz null,
         idempotency_key varchar(200) not null,
         request_hash varchar(64) not null,
         created_at timestamptz not null,
         decided_at timestamptz null,
         updated_at timestamptz null
       )`,
      'create unique index dispute_account_key on dispute (billing_account_id, idempotency_key)',
      'create index dispute_invoice on dispute (invoice_id)',
      `create index dispute_workflow_unstarted on dispute (created_at) where workflow_started_at is null and status in ('OPEN', 'IN_REVIEW')`,
      `create index dispute_account_accepted on dispute (billing_account_id, decided_at) where status = 'ACCEPTED'`,
    ];
  }
}
