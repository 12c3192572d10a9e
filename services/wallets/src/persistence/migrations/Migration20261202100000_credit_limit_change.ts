import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Every change of a wallet's credit limit after it was opened (subscribers' billingaccount.changed,
 * or a limit taken by a wallet opened before without one), with the limit it replaced and the last
 * ledger entry written before it (`from_entry`: entries up to it were decided under
 * `previous_limit`, later ones under `credit_limit` or a later change). The ledger invariants
 * judge each postpaid charge by the limit in force when it was made: a limit lowered below what is
 * already unbilled (accepted on purpose) is not a violation, a charge that went past its limit is.
 */
export class Migration20261202100000_credit_limit_change extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create table credit_limit_change (
        id bigserial primary key,
        wallet_id text not null references wallet(id),
        previous_limit numeric(20,6) null,
        credit_limit numeric(20,6) null,
        from_entry bigint not null,
        changed_at timestamptz not null
      )`,
      `create index credit_limit_change_wallet_idx on credit_limit_change (wallet_id, from_entry)`,
    ];
  }
}
