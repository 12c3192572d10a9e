import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261125000000_init } from './Migration20261125000000_init';
import { Migration20261126000000_billing } from './Migration20261126000000_billing';
import { Migration20261127000000_collections } from './Migration20261127000000_collections';
import { Migration20261128000000_autopay_flag } from './Migration20261128000000_autopay_flag';
import { Migration20261203000000_bill_run_waiting } from './Migration20261203000000_bill_run_waiting';
import { Migration20261204000000_payment_moved_to_credit } from './Migration20261204000000_payment_moved_to_credit';
import { Migration20261204000001_dunning_runs } from './Migration20261204000001_dunning_runs';
import { Migration20261205000000_disputes } from './Migration20261205000000_disputes';
import { Migration20261206000000_dispute_open_index } from './Migration20261206000000_dispute_open_index';
import { Migration20261207000000_dispute_workflow_runs } from './Migration20261207000000_dispute_workflow_runs';
import { Migration20261208000000_approval_requests } from './Migration20261208000000_approval_requests';
import { Migration20261216300000_approval_request_outcomes } from './Migration20261216300000_approval_request_outcomes';
import { Migration20261217100000_approval_daily_limit } from './Migration20261217100000_approval_daily_limit';
import { Migration20261218000000_refund_credit_note } from './Migration20261218000000_refund_credit_note';
import { Migration20261218000001_autopay_attempt_fixed } from './Migration20261218000001_autopay_attempt_fixed';
import { Migration20261219000000_bill_cycle_change } from './Migration20261219000000_bill_cycle_change';
import { Migration20261220000000_rerate_adjustment_record } from './Migration20261220000000_rerate_adjustment_record';
import { Migration20261220200000_outbox_failed_rows } from './Migration20261220200000_outbox_failed_rows';
import { Migration20261228000000_series_document_type } from './Migration20261228000000_series_document_type';
import { Migration20261229000000_payment_reference_index } from './Migration20261229000000_payment_reference_index';
import { Migration20261230000000_unapplied_payment } from './Migration20261230000000_unapplied_payment';

/** Listed explicitly (not globbed) so the same list runs from source, from a bundle and in tests. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261125000000_init', class: Migration20261125000000_init },
  { name: 'Migration20261126000000_billing', class: Migration20261126000000_billing },
  { name: 'Migration20261127000000_collections', class: Migration20261127000000_collections },
  { name: 'Migration20261128000000_autopay_flag', class: Migration20261128000000_autopay_flag },
  { name: 'Migration20261203000000_bill_run_waiting', class: Migration20261203000000_bill_run_waiting },
  { name: 'Migration20261204000000_payment_moved_to_credit', class: Migration20261204000000_payment_moved_to_credit },
  { name: 'Migration20261204000001_dunning_runs', class: Migration20261204000001_dunning_runs },
  { name: 'Migration20261205000000_disputes', class: Migration20261205000000_disputes },
  { name: 'Migration20261206000000_dispute_open_index', class: Migration20261206000000_dispute_open_index },
  { name: 'Migration20261207000000_dispute_workflow_runs', class: Migration20261207000000_dispute_workflow_runs },
  { name: 'Migration20261208000000_approval_requests', class: Migration20261208000000_approval_requests },
  { name: 'Migration20261216300000_approval_request_outcomes', class: Migration20261216300000_approval_request_outcomes },
  { name: 'Migration20261217100000_approval_daily_limit', class: Migration20261217100000_approval_daily_limit },
  { name: 'Migration20261218000000_refund_credit_note', class: Migration20261218000000_refund_credit_note },
  { name: 'Migration20261218000001_autopay_attempt_fixed', class: Migration20261218000001_autopay_attempt_fixed },
  { name: 'Migration20261219000000_bill_cycle_change', class: Migration20261219000000_bill_cycle_change },
  { name: 'Migration20261220000000_rerate_adjustment_record', class: Migration20261220000000_rerate_adjustment_record },
  { name: 'Migration20261220200000_outbox_failed_rows', class: Migration20261220200000_outbox_failed_rows },
  { name: 'Migration20261228000000_series_document_type', class: Migration20261228000000_series_document_type },
  { name: 'Migration20261229000000_payment_reference_index', class: Migration20261229000000_payment_reference_index },
  { name: 'Migration20261230000000_unapplied_payment', class: Migration20261230000000_unapplied_payment },
];
