import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * An unapplied payment paid back to its payer (refundUnappliedPayment): who, when, the outgoing bank
 * transfer's reference, why, and the request's idempotency key (unique: a key refunds one row). A
 * REFUNDED row always says who refunded it, when and by which payout.
 */
export class Migration20261231000000_unapplied_payment_refund extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table unapplied_payment add column refunded_by varchar(200) null',
      'alter table unapplied_payment add column refunded_at timestamptz null',
      'alter table unapplied_payment add column payout_reference varchar(120) null',
      'alter table unapplied_payment add column refund_note varchar(1000) null',
      'alter table unapplied_payment add column refund_idempotency_key varchar(200) null',
      'create unique index unapplied_payment_refund_key on unapplied_payment (refund_idempotency_key) where refund_idempotency_key is not null',
      `alter table unapplied_payment add constraint unapplied_payment_refunded_check check (status <> 'REFUNDED' or (refunded_at is not null and payout_reference is not null and refund_note is not null))`,
    ];
  }
}
