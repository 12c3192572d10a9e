import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A rollover bucket remembers the bucket its units were carried from (the ending period's), so a
 * late CDR of that period, arriving after the renewal emptied the ending bucket into it, still
 * draws on them instead of being charged as money (for as long as the ending bucket would have
 * served it: until the expiry job forfeits it). Null for every other bucket; rollover buckets made
 * before this stay null (they serve their own period only, as they did, and are gone within one).
 */
export class Migration20261201000000_bucket_carried_from extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`alter table bucket add column carried_from text null`];
  }
}
