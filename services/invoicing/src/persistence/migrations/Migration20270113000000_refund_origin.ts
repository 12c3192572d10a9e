import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Why a refund was made and by whom, on the refund row (before, only its billing.invoicing.refund.created
 * event said it, and refunds recorded before that event had it nowhere). Named as the event names them:
 * `reason` (refundPayment's, the approved request's or the REFUND credit note's; up to 2000 characters,
 * what refundPayment and an approval request take: REFUND_REASON_TOO_LONG), `refunded_by` the caller
 * (an approved request's requester) and `refunded_by_role` its role (AGENT, ADMIN, SYSTEM; CUSTOMER),
 * `approved_by` and `approval_request_id` when a supervisor approved it. Written with the refund, in
 * its transaction (payOut), and the event is built from the row. Rows from before stay null: not
 * known (no backfill).
 */
export class Migration20270113000000_refund_origin extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table refund add column reason varchar(2000) null',
      'alter table refund add column refunded_by varchar(200) null',
      'alter table refund add column refunded_by_role varchar(16) null',
      'alter table refund add column approved_by varchar(200) null',
      'alter table refund add column approval_request_id varchar(40) null',
    ];
  }
}
