import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Room on each bucket page for updated row versions: every charge that draws on a bucket now moves
 * its `used_quantity` (allowance notices are judged on units used). With full pages each such
 * update wrote a new row version elsewhere and a new entry in all four bucket indexes; with room
 * on the page it is a heap-only update (HOT: no index writes). Applies to pages written from now
 * on (a VACUUM FULL or pg_repack rewrites the old ones).
 */
export class Migration20261203200000_bucket_fillfactor extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`alter table bucket set (fillfactor = 70)`];
  }
}
