import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261125000000_init } from './Migration20261125000000_init';
import { Migration20261129000000_one_open_draft_per_plan } from './Migration20261129000000_one_open_draft_per_plan';
import { Migration20261220200000_outbox_failed_rows } from './Migration20261220200000_outbox_failed_rows';
import { Migration20270110100000_offer_lifecycle } from './Migration20270110100000_offer_lifecycle';

/** Listed explicitly (not globbed) so the same list runs from source, from a bundle and in tests. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261125000000_init', class: Migration20261125000000_init },
  { name: 'Migration20261129000000_one_open_draft_per_plan', class: Migration20261129000000_one_open_draft_per_plan },
  { name: 'Migration20261220200000_outbox_failed_rows', class: Migration20261220200000_outbox_failed_rows },
  { name: 'Migration20270110100000_offer_lifecycle', class: Migration20270110100000_offer_lifecycle },
];
