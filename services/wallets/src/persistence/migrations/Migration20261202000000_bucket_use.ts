import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * `used_quantity`: what was used of a bucket (charges, committed reservations), so the allowance
 * notifications (50/80/100 %) are judged on use: units a session only holds are not used, and
 * units a renewal carried over into the next period's bucket were not used either (its ledger
 * balance counts both as gone). Filled for active buckets from their balance, the units open
 * reservations hold and what was carried out of them.
 *
 * `carried_percent` / `carried_max`: on a rollover bucket, the rollover rule that carried units
 * into it (percent of what was left, at most max in all). Units a session held over the renewal
 * and gives back later go to the ended bucket; this rule moves their rollover share on.
 */
export class Migration20261202000000_bucket_use extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table bucket add column used_quantity numeric(30,6) not null default 0`,
      `alter table bucket add column carried_percent numeric(7,3) null`,
      `alter table bucket add column carried_max numeric(30,6) null`,
      `with held as (
         select p->>'bucketId' as id, sum((p->>'units')::numeric) as units
           from reservation r, jsonb_array_elements(r.bucket_parts) p where r.status = 'RESERVED' group by 1),
       carried as (select carried_from as id, sum(initial_quantity) as units from bucket where carried_from is not null group by 1)
       update bucket b set used_quantity = greatest(0, b.initial_quantity - a.balance - coalesce(h.units, 0) - coalesce(c.units, 0))
         from ledger_account a left join held h on h.id = a.id left join carried c on c.id = a.id
        where a.id = b.id and b.status = 'ACTIVE'`,
    ];
  }
}
