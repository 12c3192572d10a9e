import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A reserve refused on the wallet's state (no allowance or balance left, the wallet closed) is kept by its requestId,
 * with the request's fingerprint and the answer given: a repeat of the request is answered with that refusal, as a
 * repeat of a granted one is answered with its reservation (reserveMany). Before, a refusal left nothing, and the same
 * requestId asked again after a top-up was granted: a hold the session that asked never recorded, or money taken for
 * units usage had recorded unpaid. No ledger row: nothing moved. Nothing to rewrite (refusals before were not kept).
 */
export class Migration20270203000000_reservation_refusal extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table reservation_refusal (
        request_key text primary key,
        request_hash varchar(16) not null,
        billing_account_id varchar(40) not null,
        result_code varchar(40) not null,
        error_code varchar(64) not null,
        message text not null,
        created_at timestamptz not null
      )`,
    ];
  }
}
