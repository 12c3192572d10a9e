import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A caller's idempotency key is scoped to the billing account it acts on, as a dispute's already was
 * (`dispute_account_key`): payments (recordPayment, applied unapplied payments' own keys), refunds
 * (refundPayment; a REFUND note's refunds), credit notes (issueCreditNote, dispute and waiver notes)
 * and unapplied payments' applies are unique per (billing_account_id, idempotency_key) instead of per
 * key; an approval request's live key per (kind, billing_account_id, request_key). A suspense line's
 * payout (refundUnappliedPayment) belongs to no account: its key is the line's, unique per
 * (unapplied_payment_id, idempotency_key). Before, a key one customer (or agent) had used refused
 * another account's request with CONFLICT IDEMPOTENCY_KEY_REUSED and told them it existed.
 * `refund` and `unapplied_payment_application` get the account they act on (their payment's).
 * unapplied_payment's apply_idempotency_key / refund_idempotency_key name the latest apply and payout
 * only: no longer unique (two lines may each take a key). Existing rows were unique per key, so per
 * account too: nothing to resolve. Receipts (issuePaymentReceipt: the recharge workflow's
 * `<workflowId>:issueReceipt`) stay one key space.
 */
export class Migration20270120000000_idempotency_key_per_account extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table payment drop constraint payment_idempotency_key_unique',
      'create unique index payment_account_idempotency_key on payment (billing_account_id, idempotency_key)',

      'alter table refund add column billing_account_id varchar(40) null',
      'update refund r set billing_account_id = p.billing_account_id from payment p where p.id = r.payment_id',
      'alter table refund alter column billing_account_id set not null',
      'alter table refund drop constraint refund_idempotency_key_unique',
      'create unique index refund_account_idempotency_key on refund (billing_account_id, idempotency_key)',

      'alter table credit_note drop constraint credit_note_idempotency_key_unique',
      'create unique index credit_note_account_idempotency_key on credit_note (billing_account_id, idempotency_key)',

      'alter table unapplied_payment_application add column billing_account_id varchar(40) null',
      'update unapplied_payment_application a set billing_account_id = p.billing_account_id from payment p where p.id = a.payment_id',
      'alter table unapplied_payment_application alter column billing_account_id set not null',
      'drop index unapplied_payment_application_key',
      'create unique index unapplied_payment_application_account_idempotency_key on unapplied_payment_application (billing_account_id, idempotency_key)',

      'drop index unapplied_payment_refund_row_key',
      'create unique index unapplied_payment_refund_line_idempotency_key on unapplied_payment_refund (unapplied_payment_id, idempotency_key)',

      'drop index unapplied_payment_apply_key',
      'drop index unapplied_payment_refund_key',

      'drop index approval_request_live_key',
      `create unique index approval_request_live_key on approval_request (kind, billing_account_id, request_key) where status in ('PENDING', 'APPROVED')`,
      'drop index approval_request_key',
      'create index approval_request_key on approval_request (kind, billing_account_id, request_key, created_at)',
    ];
  }
}
