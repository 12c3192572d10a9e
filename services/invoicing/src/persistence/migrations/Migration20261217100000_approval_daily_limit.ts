import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The daily approval limit (LEDGERLINE_APPROVAL_DAILY_LIMITS) sums what one AGENT credited and
 * refunded alone in the last 24 h, but a credit note or refund did not say who made it. `moved_alone_by`
 * is that agent (null: made by a supervisor, ADMIN, SYSTEM, or by an approved request). The approval
 * gate sets the transaction-local `ledgerline.moved_alone_by` when it lets an agent's operation pass
 * alone, and the column's default picks it up, so the operations themselves need not know the caller
 * (a dispute ACCEPT's credit note is a credit note too). The partial indexes serve the gate's sum.
 */
export class Migration20261217100000_approval_daily_limit extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    const actor = `nullif(current_setting('ledgerline.moved_alone_by', true), '')`;
    return [
      `alter table credit_note add column moved_alone_by varchar(200) null default ${actor}`,
      `alter table refund add column moved_alone_by varchar(200) null default ${actor}`,
      'create index credit_note_moved_alone on credit_note (moved_alone_by, currency, created_at) where moved_alone_by is not null',
      'create index refund_moved_alone on refund (moved_alone_by, currency, created_at) where moved_alone_by is not null',
    ];
  }
}
