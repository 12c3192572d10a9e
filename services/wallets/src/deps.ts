import type { ServiceRuntime } from '@ledgerline/platform';
import type { Db } from './persistence/sql';
import type { RechargeStarter } from './adapters/recharge-starter';
import type { CatalogClient } from './adapters/catalog-client';
import type { ApprovalLimits } from '@ledgerline/contracts';
import type { Counter } from 'prom-client';
import type { VoucherLimits } from './application/vouchers';

export interface WalletsDeps {
  db: Db;
  rechargeStarter: RechargeStarter | null;
  catalog: CatalogClient | null;
  /** How much an AGENT adjusts alone per currency (LEDGERLINE_APPROVAL_LIMITS over the defaults, checked at start-up). */
  approvalLimits: ApprovalLimits;
  /** How much an AGENT adjusts alone in a rolling 24 h per currency (LEDGERLINE_APPROVAL_DAILY_LIMITS over the defaults, checked at start-up). */
  approvalDailyLimits: ApprovalLimits;
  /** How long an adjustment request can be approved (LEDGERLINE_APPROVAL_TTL_HOURS, default 72, checked at start-up); the jobs then mark it EXPIRED. */
  approvalTtlHours: number;
  /** Wrong voucher codes tried per window, per account / caller / code prefix / in all (WALLETS_VOUCHER_*, checked at start-up). */
  voucherLimits: VoucherLimits;
  /** Redemptions refused VOUCHER_ATTEMPTS_EXCEEDED, by the limit that refused them. */
  voucherAttemptsRefused: Counter<'limit'>;
  /** Charge transactions run again because a twin committed the same chargeId first, by path (ledgerline_wallets_charge_key_retries_total). */
  chargeKeyRetries: Counter<'path'>;
  /** How long after a closed account's closedAt late usage from before it is still charged (WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS, default 72, checked at start-up). */
  closedLateUsageGraceHours: number;
}

/** Built in `background` (before the server starts), found again by request contexts. */
const byRuntime = new WeakMap<ServiceRuntime, WalletsDeps>();
export const setDeps = (runtime: ServiceRuntime, deps: WalletsDeps): void => void byRuntime.set(runtime, deps);
export function depsOf(runtime: ServiceRuntime): WalletsDeps {
  const deps = byRuntime.get(runtime);
  if (!deps) throw new Error('wallets: dependencies not initialised');
  return deps;
}
