import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * What a CREDIT note took off an invoice out of each payment into account credit. With it a
 * payment's net on its invoice (applied − refunded from the invoice − moved to credit) is known, and
 * the invoice's amount_paid is the sum of its payments' nets: a refund gives back at most what the
 * payment itself still has there, never credit that paid the invoice again after it was reopened.
 * Rows from before stay 0; refunds still cap at the invoice's amount_paid for them.
 */
export class Migration20261204000000_payment_moved_to_credit extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return ['alter table payment add column moved_to_credit numeric(18, 4) not null default 0'];
  }
}
