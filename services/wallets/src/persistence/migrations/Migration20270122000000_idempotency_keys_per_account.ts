import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A caller's idempotency key is the caller's within one billing account (CONVENTIONS.md: same key +
 * same input → same result, other input → CONFLICT, in the caller's scope): a recharge's key was unique
 * over all accounts, so a customer whose "recharge-1" another customer had used got CONFLICT for their
 * own first recharge; an approval request's likewise. Both become unique per (billing account, key).
 * Rows written before keep their keys and answer their account's retries as before (a key was unique
 * over all accounts, so it is unique per account too: nothing to rewrite).
 *
 * The ledger's caller keys (top-ups, vouchers, adjustments, payouts) are scoped in the application
 * instead (`scopedCallerKey`: `<KIND>@<account>:<key>`), as `ledger_transaction.idempotency_key` also
 * holds internal keys that stay unique over the whole ledger; nothing changes in its table.
 */
export class Migration20270122000000_idempotency_keys_per_account extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'create unique index recharge_account_key on recharge (billing_account_id, idempotency_key)',
      'alter table recharge drop constraint recharge_idempotency_key_key',
      'drop index balance_adjustment_request_live_key',
      `create unique index balance_adjustment_request_live_key on balance_adjustment_request (billing_account_id, idempotency_key) where status in ('PENDING', 'APPROVED')`,
      'drop index balance_adjustment_request_key',
      'create index balance_adjustment_request_key on balance_adjustment_request (billing_account_id, idempotency_key, created_at)',
    ];
  }
}
