import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * An auto top-up request's place in its chain: 0 for the request a crossing (or a retry, or a rule
 * set below its threshold) made, n for the n-th follow-up a completion below the threshold asked
 * (followUpDecision). It bounds the chain (MAX_REQUESTS_PER_CROSSING). A constant default: no rewrite.
 */
export class Migration20270114100000_topup_request_follow_up extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`alter table topup_request add column follow_up smallint not null default 0`];
  }
}
