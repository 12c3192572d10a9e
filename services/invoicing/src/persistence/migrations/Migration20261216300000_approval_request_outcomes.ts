import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Two more ends of an approval request, so none waits PENDING forever: EXPIRED (not decided within
 * LEDGERLINE_APPROVAL_TTL_HOURS; the due-date pass marks it, approving is refused APPROVAL_EXPIRED)
 * and FAILED (approved, but its operation was refused with a coded error: the invoice was credited
 * meanwhile, the payment refunded, the dispute decided; `failure_code` and `failure_reason` say
 * which). Neither is live: the key may be asked again. The partial index serves the expiry pass.
 */
export class Migration20261216300000_approval_request_outcomes extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table approval_request drop constraint if exists approval_request_status_check',
      `alter table approval_request add constraint approval_request_status_check check (status in ('PENDING', 'APPROVED', 'REJECTED', 'EXPIRED', 'FAILED'))`,
      'alter table approval_request add column failure_code varchar(80) null',
      'alter table approval_request add column failure_reason varchar(2000) null',
      `create index approval_request_pending_age on approval_request (created_at) where status = 'PENDING'`,
    ];
  }
}
