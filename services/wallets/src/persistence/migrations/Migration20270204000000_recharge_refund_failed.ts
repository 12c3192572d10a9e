import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A card recharge captured, not credited and whose refund the provider refused for good is REFUND_FAILED (money taken,
 * none given back: staff must return it), and its auto top-up request RECHARGE_REFUND_FAILED, 22 characters: the
 * request's status grows to 40 (no rewrite: a varchar only widens). The /metrics gauge of such recharges reads them
 * through a partial index, as it does the open ones. Nothing to rewrite: before, they were recorded FAILED, which
 * cannot be told apart from a capture that was voided.
 */
export class Migration20270204000000_recharge_refund_failed extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table topup_request alter column status type varchar(40)`,
      `create index recharge_refund_failed_idx on recharge (created_at) where status = 'REFUND_FAILED'`,
    ];
  }
}
