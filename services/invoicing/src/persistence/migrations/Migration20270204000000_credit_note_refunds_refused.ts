import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A REFUND credit note's card refunds the provider refused after another of its refunds had gone out
 * (issueCreditNote): `[{ paymentId, amount, code }]`, each kept as the customer's account credit (the
 * note's CREDIT_NOTE credit entry). Before, such a refusal rolled the whole note back while the first
 * refund had left at the provider: nothing to backfill (no note was ever issued that way).
 */
export class Migration20270204000000_credit_note_refunds_refused extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return ['alter table credit_note add column refunds_refused jsonb null'];
  }
}
