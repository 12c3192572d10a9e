import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261125000000_init } from './Migration20261125000000_init';
import { Migration20261126000000_notifications } from './Migration20261126000000_notifications';
import { Migration20261126000100_upsell_offers } from './Migration20261126000100_upsell_offers';
import { Migration20261127000000_one_open_order_per_line } from './Migration20261127000000_one_open_order_per_line';
import { Migration20261128000000_collections_holds } from './Migration20261128000000_collections_holds';
import { Migration20261216000000_order_saga_lease } from './Migration20261216000000_order_saga_lease';
import { Migration20261217000000_order_saga_charge_at } from './Migration20261217000000_order_saga_charge_at';
import { Migration20261218000000_collections_hold_resume_order } from './Migration20261218000000_collections_hold_resume_order';
import { Migration20261220200000_outbox_failed_rows } from './Migration20261220200000_outbox_failed_rows';
import { Migration20261221000000_order_idempotency_key_per_account } from './Migration20261221000000_order_idempotency_key_per_account';
import { Migration20261222000000_billing_account_closed } from './Migration20261222000000_billing_account_closed';
import { Migration20261223100000_upsell_offer_period_instant } from './Migration20261223100000_upsell_offer_period_instant';
import { Migration20270124000000_upsell_offer_period_end } from './Migration20270124000000_upsell_offer_period_end';
import { Migration20270127000000_billing_account_partner } from './Migration20270127000000_billing_account_partner';
import { Migration20270129000000_billing_account_partner_change } from './Migration20270129000000_billing_account_partner_change';
import { Migration20270131000000_billing_account_change } from './Migration20270131000000_billing_account_change';
import { Migration20270201000000_line_terminated_at } from './Migration20270201000000_line_terminated_at';
import { Migration20270202000000_order_network_undone_at } from './Migration20270202000000_order_network_undone_at';
import { Migration20270203000000_order_failure_internal_message } from './Migration20270203000000_order_failure_internal_message';
import { Migration20270203000100_order_network_undone_by } from './Migration20270203000100_order_network_undone_by';

/** Listed explicitly (not globbed) so the same list runs from source, from a bundle and in tests. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261125000000_init', class: Migration20261125000000_init },
  { name: 'Migration20261126000000_notifications', class: Migration20261126000000_notifications },
  { name: 'Migration20261126000100_upsell_offers', class: Migration20261126000100_upsell_offers },
  { name: 'Migration20261127000000_one_open_order_per_line', class: Migration20261127000000_one_open_order_per_line },
  { name: 'Migration20261128000000_collections_holds', class: Migration20261128000000_collections_holds },
  { name: 'Migration20261216000000_order_saga_lease', class: Migration20261216000000_order_saga_lease },
  { name: 'Migration20261217000000_order_saga_charge_at', class: Migration20261217000000_order_saga_charge_at },
  { name: 'Migration20261218000000_collections_hold_resume_order', class: Migration20261218000000_collections_hold_resume_order },
  { name: 'Migration20261220200000_outbox_failed_rows', class: Migration20261220200000_outbox_failed_rows },
  { name: 'Migration20261221000000_order_idempotency_key_per_account', class: Migration20261221000000_order_idempotency_key_per_account },
  { name: 'Migration20261222000000_billing_account_closed', class: Migration20261222000000_billing_account_closed },
  { name: 'Migration20261223100000_upsell_offer_period_instant', class: Migration20261223100000_upsell_offer_period_instant },
  { name: 'Migration20270124000000_upsell_offer_period_end', class: Migration20270124000000_upsell_offer_period_end },
  { name: 'Migration20270127000000_billing_account_partner', class: Migration20270127000000_billing_account_partner },
  { name: 'Migration20270129000000_billing_account_partner_change', class: Migration20270129000000_billing_account_partner_change },
  { name: 'Migration20270131000000_billing_account_change', class: Migration20270131000000_billing_account_change },
  { name: 'Migration20270201000000_line_terminated_at', class: Migration20270201000000_line_terminated_at },
  { name: 'Migration20270202000000_order_network_undone_at', class: Migration20270202000000_order_network_undone_at },
  { name: 'Migration20270203000000_order_failure_internal_message', class: Migration20270203000000_order_failure_internal_message },
  { name: 'Migration20270203000100_order_network_undone_by', class: Migration20270203000100_order_network_undone_by },
];
