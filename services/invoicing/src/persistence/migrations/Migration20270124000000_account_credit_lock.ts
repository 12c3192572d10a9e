import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The credit lock of an account (lock 2 of lock-order.ts) as a row lock on its own row here, no longer a
 * transaction advisory lock: an advisory lock is an entry of PostgreSQL's shared lock table (sized
 * max_locks_per_transaction × connections for the whole server), and a bill run's batch holds the credit
 * lock of every account it issues for (up to MAX_BILL_RUN_BATCH, 10,000) until it commits; a row lock is
 * kept in the row. A row of its own, not the account's: the account's row is lock 1, held by whatever
 * composes the account's invoice, and credit must not wait for that. Every account gets its row here or
 * when registered; `lockAccountsCredit` makes one missing.
 */
export class Migration20270124000000_account_credit_lock extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'create table account_credit_lock (billing_account_id varchar(40) primary key)',
      'insert into account_credit_lock (billing_account_id) select id from billing_account',
    ];
  }
}
