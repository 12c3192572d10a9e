import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Two more ends of a balance adjustment request, so none waits PENDING forever: EXPIRED (not decided
 * within LEDGERLINE_APPROVAL_TTL_HOURS; the wallet jobs mark it, approving is refused
 * APPROVAL_EXPIRED) and FAILED (approved, but adjustBalance refused it with a coded error: a debit the
 * balance no longer covers; `failure_code` and `failure_reason` say which). Neither is live: the key
 * may be asked again. The partial index serves the expiry pass.
 */
export class Migration20261216300100_balance_adjustment_request_outcomes extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table balance_adjustment_request drop constraint if exists balance_adjustment_request_status_check',
      `alter table balance_adjustment_request add constraint balance_adjustment_request_status_check check (status in ('PENDING', 'APPROVED', 'REJECTED', 'EXPIRED', 'FAILED'))`,
      'alter table balance_adjustment_request add column failure_code varchar(80) null',
      'alter table balance_adjustment_request add column failure_reason varchar(2000) null',
      `create index balance_adjustment_request_pending_age on balance_adjustment_request (created_at) where status = 'PENDING'`,
    ];
  }
}
