import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * An autopay invoice's releases from its disputes are charged one by one: each dispute closed after
 * the due-date attempt (1) gives the invoice its next attempt (2, 3, … in the order made) naming the
 * released dispute (`dispute_id`, once per invoice and dispute), provider key
 * `autopay:<invoiceId>:released:<disputeId>`. Before, one attempt 2 charged the rest once the invoice
 * was released from every dispute (key `autopay:<invoiceId>:released`): those rows keep a null
 * `dispute_id` and stay as they are (a STARTED one is retried as fixed).
 */
export class Migration20270112000000_autopay_release_per_dispute extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table autopay_attempt add column dispute_id varchar(40) null',
      'create unique index autopay_attempt_dispute on autopay_attempt (invoice_id, dispute_id) where dispute_id is not null',
    ];
  }
}
