import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A statement line applied and paid back in parts (applyUnappliedPayment / refundUnappliedPayment
 * with an amount): the line keeps what remains (`remaining_amount`; rows kept before: all of it while
 * UNAPPLIED, nothing once APPLIED or REFUNDED) and a status that agrees with it (UNAPPLIED or
 * PARTIALLY_APPLIED while something remains). Each apply is a row of unapplied_payment_application
 * (its payment, invoice, amount, the amount asked for — null: all that remained — and its
 * idempotency key, unique), each payout a row of unapplied_payment_refund; the whole-line apply or
 * refund of the rows before is copied there. The row's applied_* / refunded_* columns keep the
 * latest. The open index (gauges) is over the rows something remains of.
 */
export class Migration20270101000000_unapplied_payment_parts extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table unapplied_payment add column remaining_amount numeric(18,4) null',
      `update unapplied_payment set remaining_amount = case when status = 'UNAPPLIED' then amount else 0 end`,
      'alter table unapplied_payment alter column remaining_amount set not null',
      'alter table unapplied_payment add constraint unapplied_payment_remaining_check check (remaining_amount >= 0 and remaining_amount <= amount)',
      'alter table unapplied_payment drop constraint unapplied_payment_status_check',
      'alter table unapplied_payment alter column status type varchar(20)', // PARTIALLY_APPLIED is 17
      `alter table unapplied_payment add constraint unapplied_payment_status_check check (status in ('UNAPPLIED', 'PARTIALLY_APPLIED', 'APPLIED', 'REFUNDED') and ((status in ('UNAPPLIED', 'PARTIALLY_APPLIED')) = (remaining_amount > 0)))`,
      'drop index unapplied_payment_open',
      `create index unapplied_payment_open on unapplied_payment (currency) where status in ('UNAPPLIED', 'PARTIALLY_APPLIED')`,
      `create table unapplied_payment_application (
         id varchar(40) primary key,
         unapplied_payment_id varchar(40) not null references unapplied_payment (id),
         invoice_id varchar(40) not null,
         payment_id varchar(40) not null,
         amount numeric(18,4) not null check (amount > 0),
         requested_amount numeric(18,4) null,
         idempotency_key varchar(200) not null,
         applied_by varchar(200) null,
         applied_at timestamptz not null
       )`,
      'create unique index unapplied_payment_application_key on unapplied_payment_application (idempotency_key)',
      'create index unapplied_payment_application_row on unapplied_payment_application (unapplied_payment_id, applied_at, id)',
      `create table unapplied_payment_refund (
         id varchar(40) primary key,
         unapplied_payment_id varchar(40) not null references unapplied_payment (id),
         amount numeric(18,4) not null check (amount > 0),
         requested_amount numeric(18,4) null,
         payout_reference varchar(120) not null,
         note varchar(1000) not null,
         idempotency_key varchar(200) not null,
         refunded_by varchar(200) null,
         refunded_at timestamptz not null
       )`,
      'create unique index unapplied_payment_refund_row_key on unapplied_payment_refund (idempotency_key)',
      'create index unapplied_payment_refund_row on unapplied_payment_refund (unapplied_payment_id, refunded_at, id)',
      `insert into unapplied_payment_application (id, unapplied_payment_id, invoice_id, payment_id, amount, requested_amount, idempotency_key, applied_by, applied_at)
         select 'upapp_' || md5(id), id, applied_invoice_id, applied_payment_id, amount, null, apply_idempotency_key, applied_by, coalesce(applied_at, updated_at, created_at)
           from unapplied_payment where status = 'APPLIED' and applied_payment_id is not null and apply_idempotency_key is not null`,
      `insert into unapplied_payment_refund (id, unapplied_payment_id, amount, requested_amount, payout_reference, note, idempotency_key, refunded_by, refunded_at)
         select 'uprfd_' || md5(id), id, amount, null, payout_reference, refund_note, refund_idempotency_key, refunded_by, refunded_at
           from unapplied_payment where status = 'REFUNDED' and refund_idempotency_key is not null`,
    ];
  }
}
