import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `ledger_require(ok, message)` raises `message` (SQLSTATE LL001) when `ok` is false. The ledger
 * write checks inside its own statement that every account it moved exists (entries have no
 * foreign key), so the write can travel with the commit instead of waiting for its rows.
 */
export class Migration20261130000000_ledger_require extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `create or replace function ledger_require(ok boolean, message text) returns boolean language plpgsql volatile as $$
       begin
         if ok is not true then raise exception using message = message, errcode = 'LL001'; end if;
         return true;
       end $$`,
    ];
  }
}
