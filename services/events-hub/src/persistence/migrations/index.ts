import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261204000000_init } from './Migration20261204000000_init';
import { Migration20261210000000_secrets_and_cancelled } from './Migration20261210000000_secrets_and_cancelled';
import { Migration20270131000000_partner_event_visibility } from './Migration20270131000000_partner_event_visibility';
import { Migration20270201000000_unknown_type_events } from './Migration20270201000000_unknown_type_events';
import { Migration20270202000000_held_event_read_at } from './Migration20270202000000_held_event_read_at';

/** Listed explicitly (not globbed) so the same list runs from source, from a bundle and in tests. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261204000000_init', class: Migration20261204000000_init },
  { name: 'Migration20261210000000_secrets_and_cancelled', class: Migration20261210000000_secrets_and_cancelled },
  { name: 'Migration20270131000000_partner_event_visibility', class: Migration20270131000000_partner_event_visibility },
  { name: 'Migration20270201000000_unknown_type_events', class: Migration20270201000000_unknown_type_events },
  { name: 'Migration20270202000000_held_event_read_at', class: Migration20270202000000_held_event_read_at },
];
