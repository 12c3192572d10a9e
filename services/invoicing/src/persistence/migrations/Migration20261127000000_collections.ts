import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Collections and one-off invoices: autopay tokens and attempts, the dunning start mark, invoices
 * from events (budget replenishments, one per source), late usage adjusting an earlier invoice,
 * discounts that target usage or the whole invoice.
 */
export class Migration20261127000000_collections extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table billing_account add column autopay_token varchar(200) null',
      'alter table invoice add column source_ref varchar(80) null',
      'alter table invoice add column dunning_started_at timestamptz null',
      // Only period invoices are unique per account and period; a replenishment invoice is unique per source.
      'drop index if exists invoice_account_period_live',
      `create unique index invoice_account_period_live on invoice (billing_account_id, period_start) where voided_at is null and kind = 'PERIOD'`,
      'create unique index invoice_kind_source on invoice (kind, source_ref) where source_ref is not null',
      `create index invoice_due_open on invoice (due_date) where state in ('SENT', 'PARTIALLY_PAID', 'ON_HOLD')`,
      'alter table unbilled_charge add column adjusts_invoice_id varchar(40) null',
      `alter table discount add column target varchar(16) not null default 'RECURRING'`,
      `create table autopay_attempt (
         invoice_id varchar(40) primary key,
         billing_account_id varchar(40) not null,
         state varchar(16) not null,
         payment_id varchar(40) null,
         failure_code varchar(60) null,
         attempted_at timestamptz not null
       )`,
    ];
  }
}
