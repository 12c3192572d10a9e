import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The REFUND credit note a refund pays out (null: a refundPayment). A REFUND note refunds each
 * payment it takes money back from as refundPayment does (a refund row, the card provider's refund
 * for a CARD payment); before, it only marked the payments refunded and nothing sent the money.
 */
export class Migration20261218000000_refund_credit_note extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return ['alter table refund add column credit_note_id varchar(40) null', 'create index refund_credit_note on refund (credit_note_id) where credit_note_id is not null'];
  }
}
