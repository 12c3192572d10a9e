import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Voucher guessing limits that do not depend on the account (an attacker with many accounts tried 5
 * codes on each): a failed try records who asked (`caller`: role:subject of the signed caller) and the
 * code's first 16 characters (`code_prefix`), and the failures are counted per caller, per prefix and in
 * all (vouchers.ts). Indexes on the failures only (successes are never counted). Rows written before
 * have neither and count only in the account's and the global limit.
 */
export class Migration20261221100000_voucher_attempt_caller extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table voucher_attempt add column caller text null`,
      `alter table voucher_attempt add column code_prefix varchar(16) null`,
      `create index voucher_attempt_failed_caller_idx on voucher_attempt (caller, at) where not succeeded`,
      `create index voucher_attempt_failed_prefix_idx on voucher_attempt (code_prefix, at) where not succeeded`,
      `create index voucher_attempt_failed_at_idx on voucher_attempt (at) where not succeeded`,
    ];
  }
}
