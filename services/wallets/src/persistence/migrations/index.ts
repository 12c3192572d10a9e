import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261125000000_init } from './Migration20261125000000_init';
import { Migration20261125000100_ledger } from './Migration20261125000100_ledger';
import { Migration20261126100000_ledger_hot_path } from './Migration20261126100000_ledger_hot_path';
import { Migration20261126100100_ledger_account_fillfactor } from './Migration20261126100100_ledger_account_fillfactor';
import { Migration20261126200000_budgets_ownership } from './Migration20261126200000_budgets_ownership';
import { Migration20261127100000_allowance_periods } from './Migration20261127100000_allowance_periods';
import { Migration20261129000000_due_charges } from './Migration20261129000000_due_charges';
import { Migration20261129100000_ledger_transaction_account_index } from './Migration20261129100000_ledger_transaction_account_index';
import { Migration20261130000000_ledger_require } from './Migration20261130000000_ledger_require';
import { Migration20261130100000_reservation_usage } from './Migration20261130100000_reservation_usage';
import { Migration20261201000000_bucket_carried_from } from './Migration20261201000000_bucket_carried_from';
import { Migration20261201100000_reservation_price_precision } from './Migration20261201100000_reservation_price_precision';
import { Migration20261202000000_bucket_use } from './Migration20261202000000_bucket_use';
import { Migration20261202100000_credit_limit_change } from './Migration20261202100000_credit_limit_change';
import { Migration20261203200000_bucket_fillfactor } from './Migration20261203200000_bucket_fillfactor';
import { Migration20261203300000_open_recharges_index } from './Migration20261203300000_open_recharges_index';
import { Migration20261204000000_account_timezone } from './Migration20261204000000_account_timezone';
import { Migration20261205000000_wallet_rule_flags } from './Migration20261205000000_wallet_rule_flags';
import { Migration20261205100000_sink_accounts_keep_no_balance } from './Migration20261205100000_sink_accounts_keep_no_balance';
import { Migration20261208100000_balance_adjustment_requests } from './Migration20261208100000_balance_adjustment_requests';
import { Migration20261216300100_balance_adjustment_request_outcomes } from './Migration20261216300100_balance_adjustment_request_outcomes';

/** Listed explicitly (not globbed) so the same list runs from source, from a bundle and in tests. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261125000000_init', class: Migration20261125000000_init },
  { name: 'Migration20261125000100_ledger', class: Migration20261125000100_ledger },
  { name: 'Migration20261126100000_ledger_hot_path', class: Migration20261126100000_ledger_hot_path },
  { name: 'Migration20261126100100_ledger_account_fillfactor', class: Migration20261126100100_ledger_account_fillfactor },
  { name: 'Migration20261126200000_budgets_ownership', class: Migration20261126200000_budgets_ownership },
  { name: 'Migration20261127100000_allowance_periods', class: Migration20261127100000_allowance_periods },
  { name: 'Migration20261129000000_due_charges', class: Migration20261129000000_due_charges },
  { name: 'Migration20261129100000_ledger_transaction_account_index', class: Migration20261129100000_ledger_transaction_account_index },
  { name: 'Migration20261130000000_ledger_require', class: Migration20261130000000_ledger_require },
  { name: 'Migration20261130100000_reservation_usage', class: Migration20261130100000_reservation_usage },
  { name: 'Migration20261201000000_bucket_carried_from', class: Migration20261201000000_bucket_carried_from },
  { name: 'Migration20261201100000_reservation_price_precision', class: Migration20261201100000_reservation_price_precision },
  { name: 'Migration20261202000000_bucket_use', class: Migration20261202000000_bucket_use },
  { name: 'Migration20261202100000_credit_limit_change', class: Migration20261202100000_credit_limit_change },
  { name: 'Migration20261203200000_bucket_fillfactor', class: Migration20261203200000_bucket_fillfactor },
  { name: 'Migration20261203300000_open_recharges_index', class: Migration20261203300000_open_recharges_index },
  { name: 'Migration20261204000000_account_timezone', class: Migration20261204000000_account_timezone },
  { name: 'Migration20261205000000_wallet_rule_flags', class: Migration20261205000000_wallet_rule_flags },
  { name: 'Migration20261205100000_sink_accounts_keep_no_balance', class: Migration20261205100000_sink_accounts_keep_no_balance },
  { name: 'Migration20261208100000_balance_adjustment_requests', class: Migration20261208100000_balance_adjustment_requests },
  { name: 'Migration20261216300100_balance_adjustment_request_outcomes', class: Migration20261216300100_balance_adjustment_request_outcomes },
];
