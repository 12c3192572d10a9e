import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261125000000_init } from './Migration20261125000000_init';
import { Migration20261126100000_lean_records } from './Migration20261126100000_lean_records';
import { Migration20261126200000_waiting_rejections } from './Migration20261126200000_waiting_rejections';
import { Migration20261126300000_period_anchors } from './Migration20261126300000_period_anchors';
import { Migration20261127000000_period_lapses } from './Migration20261127000000_period_lapses';
import { Migration20261127100000_line_status_history } from './Migration20261127100000_line_status_history';
import { Migration20261127200000_msisdn_assignments } from './Migration20261127200000_msisdn_assignments';
import { Migration20261128000000_session_sequence } from './Migration20261128000000_session_sequence';
import { Migration20261129000000_record_fingerprint } from './Migration20261129000000_record_fingerprint';
import { Migration20261202100000_rerate_adjustments } from './Migration20261202100000_rerate_adjustments';
import { Migration20261203000000_account_owners } from './Migration20261203000000_account_owners';
import { Migration20261203150000_emitted_events } from './Migration20261203150000_emitted_events';
import { Migration20261210000000_adjustment_resend } from './Migration20261210000000_adjustment_resend';
import { Migration20261211000000_rejection_history } from './Migration20261211000000_rejection_history';
import { Migration20261212000000_unbilled_adjustments } from './Migration20261212000000_unbilled_adjustments';
import { Migration20261213000000_missed_by_invoice } from './Migration20261213000000_missed_by_invoice';
import { Migration20261214000000_period_rollovers } from './Migration20261214000000_period_rollovers';
import { Migration20261215000000_charge_outcomes } from './Migration20261215000000_charge_outcomes';
import { Migration20261220200000_outbox_failed_rows } from './Migration20261220200000_outbox_failed_rows';
import { Migration20261221000000_precharged_session_rejections } from './Migration20261221000000_precharged_session_rejections';
import { Migration20261222000000_record_preceding_quantity } from './Migration20261222000000_record_preceding_quantity';

/** Listed explicitly (not globbed) so the same list runs from source, from a bundle and in tests. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261125000000_init', class: Migration20261125000000_init },
  { name: 'Migration20261126100000_lean_records', class: Migration20261126100000_lean_records },
  { name: 'Migration20261126200000_waiting_rejections', class: Migration20261126200000_waiting_rejections },
  { name: 'Migration20261126300000_period_anchors', class: Migration20261126300000_period_anchors },
  { name: 'Migration20261127000000_period_lapses', class: Migration20261127000000_period_lapses },
  { name: 'Migration20261127100000_line_status_history', class: Migration20261127100000_line_status_history },
  { name: 'Migration20261127200000_msisdn_assignments', class: Migration20261127200000_msisdn_assignments },
  { name: 'Migration20261128000000_session_sequence', class: Migration20261128000000_session_sequence },
  { name: 'Migration20261129000000_record_fingerprint', class: Migration20261129000000_record_fingerprint },
  { name: 'Migration20261202100000_rerate_adjustments', class: Migration20261202100000_rerate_adjustments },
  { name: 'Migration20261203000000_account_owners', class: Migration20261203000000_account_owners },
  { name: 'Migration20261203150000_emitted_events', class: Migration20261203150000_emitted_events },
  { name: 'Migration20261210000000_adjustment_resend', class: Migration20261210000000_adjustment_resend },
  { name: 'Migration20261211000000_rejection_history', class: Migration20261211000000_rejection_history },
  { name: 'Migration20261212000000_unbilled_adjustments', class: Migration20261212000000_unbilled_adjustments },
  { name: 'Migration20261213000000_missed_by_invoice', class: Migration20261213000000_missed_by_invoice },
  { name: 'Migration20261214000000_period_rollovers', class: Migration20261214000000_period_rollovers },
  { name: 'Migration20261215000000_charge_outcomes', class: Migration20261215000000_charge_outcomes },
  { name: 'Migration20261220200000_outbox_failed_rows', class: Migration20261220200000_outbox_failed_rows },
  { name: 'Migration20261221000000_precharged_session_rejections', class: Migration20261221000000_precharged_session_rejections },
  { name: 'Migration20261222000000_record_preceding_quantity', class: Migration20261222000000_record_preceding_quantity },
];
