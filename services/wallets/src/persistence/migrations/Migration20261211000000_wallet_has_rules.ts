import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Whether a wallet has a rule a falling balance can trigger (an enabled committed-spend budget or
 * auto top-up rule), kept on the wallet row by triggers on the two rule tables. Charging locks the
 * wallet row anyway, so it reads the flag there instead of two index probes per wallet into the
 * rule tables on every batch (measured: ~2 of the 5 probes a 1000-wallet batch's balances read
 * makes). Triggers, not the services' code, keep it true whatever path changes a rule; the
 * invariant checker compares it with the rule tables after every integration test.
 */
export class Migration20261211000000_wallet_has_rules extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table wallet add column has_rules boolean not null default false`,
      `create or replace function wallet_has_rules(wid text) returns boolean language sql stable as $$
         select exists (select 1 from budget b where b.wallet_id = wid and b.enabled)
             or exists (select 1 from auto_topup_rule r where r.wallet_id = wid and r.enabled) $$`,
      `update wallet set has_rules = wallet_has_rules(id)`,
      `create or replace function wallet_has_rules_sync() returns trigger language plpgsql as $$
         declare wid text;
         begin
           for wid in select distinct x from unnest(array[
               case when tg_op <> 'INSERT' then old.wallet_id::text end,
               case when tg_op <> 'DELETE' then new.wallet_id::text end]) as t(x) where x is not null loop
             update wallet set has_rules = wallet_has_rules(wid) where id = wid and has_rules is distinct from wallet_has_rules(wid);
           end loop;
           return null;
         end $$`,
      `create trigger budget_wallet_has_rules after insert or update or delete on budget for each row execute function wallet_has_rules_sync()`,
      `create trigger auto_topup_rule_wallet_has_rules after insert or update or delete on auto_topup_rule for each row execute function wallet_has_rules_sync()`,
    ];
  }
}
