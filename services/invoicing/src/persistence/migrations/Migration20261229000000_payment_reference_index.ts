import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A bank transfer finds its invoice by payment reference (invoice-reference.ts): the exact
 * reference, else the reference normalised (letters and digits, upper case). Both read every
 * invoice ever issued without an index; these keep a payment's lookup one index probe however many
 * invoices there are. The expression must stay the query's, character for character, or the
 * planner does not use it (test/payment-reference-index.test.ts).
 */
export class Migration20261229000000_payment_reference_index extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create index invoice_payment_reference on invoice (payment_reference) where voided_at is null`,
      `create index invoice_payment_reference_normalised on invoice ((upper(regexp_replace(payment_reference, '[^A-Za-z0-9]', '', 'g')))) where voided_at is null and payment_reference is not null`,
    ];
  }
}
