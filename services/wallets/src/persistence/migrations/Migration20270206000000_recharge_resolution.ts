import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A REFUND_FAILED card recharge (captured, not credited, the refund refused for good) is closed by staff with
 * resolveRefundFailedRecharge: RESOLVED, how (REFUNDED_OUTSIDE: the money returned outside the provider's refund;
 * CREDITED: the wallet credited after all, `resolution_transaction_id` its TOPUP), the note, who and when (audit), and
 * the key and fingerprint a retry is answered by. Set together, and only on a RESOLVED recharge (the check). Nothing to
 * rewrite: no recharge was RESOLVED before.
 */
export class Migration20270206000000_recharge_resolution extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table recharge add column resolution varchar(20) null`,
      `alter table recharge add column resolution_note varchar(1000) null`,
      `alter table recharge add column resolved_by text null`,
      `alter table recharge add column resolved_by_role varchar(20) null`,
      `alter table recharge add column resolved_at timestamptz null`,
      `alter table recharge add column resolution_key varchar(200) null`,
      `alter table recharge add column resolution_hash char(64) null`,
      `alter table recharge add column resolution_transaction_id text null`,
      `alter table recharge add constraint recharge_resolution_chk check (
         (status = 'RESOLVED') = (resolved_at is not null)
         and (resolved_at is null) = (resolution is null) and (resolved_at is null) = (resolution_note is null)
         and (resolved_at is null) = (resolved_by is null) and (resolved_at is null) = (resolution_hash is null)
         and (resolution = 'CREDITED') = (resolution_transaction_id is not null)
         and (resolution is null or resolution in ('REFUNDED_OUTSIDE', 'CREDITED')))`,
    ];
  }
}
