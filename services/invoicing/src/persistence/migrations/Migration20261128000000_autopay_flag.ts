import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Autopay without the token on the event bus: subscribers' account event says only whether a
 * token is on file (`autopay`); the due-date job asks subscribers for the token when it charges.
 * A token registered here directly (an operator) is still used as before.
 */
export class Migration20261128000000_autopay_flag extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return ['alter table billing_account add column autopay boolean not null default false', 'update billing_account set autopay = true where autopay_token is not null'];
  }
}
