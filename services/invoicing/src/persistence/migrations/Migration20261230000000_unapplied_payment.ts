import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The suspense list: bank statement lines (receiveBankTransfer) whose reference names no invoice, or
 * more than one, kept instead of refused so the money is not lost, until staff apply them to an
 * invoice (applyUnappliedPayment: a BANK_TRANSFER payment, APPLIED) or pay them back (REFUNDED).
 * One row per bank transaction (unique): a statement imported twice is kept once. The partial index
 * keeps the /metrics gauge and the UNAPPLIED list small however many rows were applied.
 */
export class Migration20261230000000_unapplied_payment extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table unapplied_payment (
         id varchar(40) primary key,
         bank_transaction_id varchar(180) not null,
         amount numeric(18,4) not null check (amount > 0),
         currency varchar(3) not null,
         reference varchar(1000) not null,
         payer_name varchar(200) null,
         received_at timestamptz not null,
         status varchar(16) not null check (status in ('UNAPPLIED', 'APPLIED', 'REFUNDED')),
         reason_code varchar(64) not null,
         candidate_invoice_ids jsonb not null default '[]',
         received_by varchar(200) null,
         request_hash varchar(64) not null,
         applied_invoice_id varchar(40) null,
         applied_payment_id varchar(40) null,
         applied_by varchar(200) null,
         applied_at timestamptz null,
         apply_idempotency_key varchar(200) null,
         created_at timestamptz not null,
         updated_at timestamptz null
       )`,
      'create unique index unapplied_payment_bank_transaction on unapplied_payment (bank_transaction_id)',
      'create unique index unapplied_payment_apply_key on unapplied_payment (apply_idempotency_key) where apply_idempotency_key is not null',
      'create index unapplied_payment_status_created on unapplied_payment (status, created_at, id)',
      `create index unapplied_payment_open on unapplied_payment (currency) where status = 'UNAPPLIED'`,
    ];
  }
}
