import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * An autopay attempt fixes its charge before the card provider is asked: state STARTED with the
 * amount, currency, payment-method token and idempotency key, committed on its own. Every pass of
 * the due-date job retries exactly that charge until the provider answers (a capture whose commit
 * failed is then recorded once, whatever the invoice owes meanwhile; the rest becomes account
 * credit). Before, each pass charged what the invoice owed at that moment under the same key.
 * Rows from before keep these null (they are final states).
 */
export class Migration20261218000001_autopay_attempt_fixed extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table autopay_attempt add column amount numeric(18, 4) null',
      'alter table autopay_attempt add column currency varchar(3) null',
      'alter table autopay_attempt add column payment_method_token varchar(200) null',
      'alter table autopay_attempt add column idempotency_key varchar(200) null',
      `create index autopay_attempt_started on autopay_attempt (attempted_at) where state = 'STARTED'`,
    ];
  }
}
