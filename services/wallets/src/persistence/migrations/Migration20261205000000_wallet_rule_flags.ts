import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Every charge batch needs, per wallet, whether a falling balance can trigger a rule (an enabled
 * budget or auto top-up) and the committed amount of its budget. Read by joins, that was two index
 * probes per wallet on every batch (~3 ms of a 1,000-wallet batch's reads) for rules that change
 * a few times in a wallet's life. The wallet row now carries both, kept by triggers on the two
 * rule tables in the transaction that changes a rule, so the batch's locking statement returns
 * them with the row it locks (its newest version).
 */
export class Migration20261205000000_wallet_rule_flags extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table wallet add column budget_committed numeric(20,6) null`,
      `alter table wallet add column has_balance_rules boolean not null default false`,
      `create or replace function wallet_rule_flags_refresh(wallet_id text) returns void language sql as $$
         update wallet w set budget_committed = f.committed,
                             has_balance_rules = f.committed is not null or exists (select 1 from auto_topup_rule r where r.wallet_id = w.id and r.enabled)
           from (select (select b.committed from budget b where b.wallet_id = wallet_rule_flags_refresh.wallet_id and b.enabled) as committed) f
          where w.id = wallet_rule_flags_refresh.wallet_id
       $$`,
      `create or replace function wallet_rule_flags_changed() returns trigger language plpgsql as $$
       begin
         if tg_op <> 'INSERT' then perform wallet_rule_flags_refresh(old.wallet_id); end if;
         if tg_op = 'INSERT' or (tg_op = 'UPDATE' and new.wallet_id is distinct from old.wallet_id) then perform wallet_rule_flags_refresh(new.wallet_id); end if;
         return null;
       end $$`,
      `create trigger budget_rule_flags after insert or delete or update of wallet_id, committed, enabled on budget
         for each row execute function wallet_rule_flags_changed()`,
      `create trigger auto_topup_rule_flags after insert or delete or update of wallet_id, enabled on auto_topup_rule
         for each row execute function wallet_rule_flags_changed()`,
      `select wallet_rule_flags_refresh(w.id) from wallet w
        where exists (select 1 from budget b where b.wallet_id = w.id) or exists (select 1 from auto_topup_rule r where r.wallet_id = w.id)`,
    ];
  }
}
