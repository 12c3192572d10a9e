import { Decimal, badInput, notFound } from '@ledgerline/contracts';
import { ConfigError } from '@ledgerline/platform';
import type { Sql } from '../persistence/sql';
import { requireOpen, walletById } from './wallets';
import { requireMinorUnits } from '../domain/entered-money';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../domain/auto-topup';
import { requestAutoTopupOnRuleSet } from './balance-events';

export interface SetAutoTopupCommand {
  walletId: string;
  enabled: boolean;
  threshold: string;
  topupAmount?: string | null;
  targetBalance?: string | null;
  paymentMethodToken: string;
  dailyLimit?: string | null;
  monthlyLimit?: string | null;
  now: Date;
}

const DEC = /^\d+(\.\d{1,6})?$/;

/** Under the wallet's row lock, as setBudget reads rules: the two can never both be enabled. */
async function hasEnabledBudget(sql: Sql, walletId: string): Promise<boolean> {
  return (await sql.query(`select 1 from budget where wallet_id = $1 and enabled`, [walletId])).length > 0;
}

/**
 * A daily or monthly limit below the smallest top-up the rule asks for would refuse every one of
 * them (LIMIT_REACHED): the rule could never top up. The smallest: `topupAmount`, or (up to a
 * target) a little more than target - threshold, since it fires only once the balance is below the
 * threshold. Amounts are checked before (decimals, no finer than the minor unit).
 */
function requireLimitsAllowATopup(c: SetAutoTopupCommand): void {
  const smallest = c.topupAmount != null ? new Decimal(c.topupAmount) : new Decimal(c.targetBalance!).minus(c.threshold);
  const tooLow = (limit: Decimal) => (c.topupAmount != null ? limit.lessThan(smallest) : limit.lessThanOrEqualTo(smallest));
  for (const f of ['dailyLimit', 'monthlyLimit'] as const) {
    const v = c[f];
    if (v == null || !tooLow(new Decimal(v))) continue;
    const what = c.topupAmount != null ? `the top-up amount (${smallest.toFixed()})` : `what a top-up to the target takes from below the threshold (more than ${smallest.toFixed()})`;
    throw badInput(`input.${f}`, `${f} (${v}) is below ${what}: every top-up would be refused, the rule could never top up`, 'AUTO_TOPUP_LIMIT_BELOW_AMOUNT');
  }
}

export async function setAutoTopup(sql: Sql, c: SetAutoTopupCommand) {
  const wallet = await walletById(sql, c.walletId, true);
  if (!wallet) throw notFound('Wallet', c.walletId, 'input.walletId');
  // A closed account's card is not charged again: no rule is turned on for its wallet.
  if (c.enabled) requireOpen(wallet, 'input.walletId');
  if (c.enabled && (await hasEnabledBudget(sql, wallet.id))) {
    throw badInput('input.walletId', 'This wallet is a committed-spend budget: its budget replenishes it (and invoices the account), so an automatic card top-up would pay for the same low balance twice', 'AUTO_TOPUP_ON_BUDGET_WALLET');
  }
  for (const f of ['threshold', 'topupAmount', 'targetBalance', 'dailyLimit', 'monthlyLimit'] as const) {
    const v = c[f];
    if (v != null && !DEC.test(v)) throw badInput(`input.${f}`, `${f} must be a non-negative decimal (got "${v}")`, 'AMOUNT_INVALID');
    if (v != null) requireMinorUnits(new Decimal(v), wallet.currency, `input.${f}`);
  }
  if ((c.topupAmount == null) === (c.targetBalance == null)) throw badInput('input.topupAmount', 'Give either topupAmount (top up by) or targetBalance (top up to), not both', 'AUTO_TOPUP_MODE_INVALID');
  if (c.topupAmount != null && new Decimal(c.topupAmount).isZero()) throw badInput('input.topupAmount', 'topupAmount must be greater than zero', 'AMOUNT_NOT_POSITIVE');
  if (c.targetBalance != null && !new Decimal(c.targetBalance).greaterThan(new Decimal(c.threshold))) throw badInput('input.targetBalance', 'targetBalance must be above the threshold', 'AUTO_TOPUP_MODE_INVALID');
  // Only for a rule that is on: turning off a rule stored before this check is never refused.
  if (c.enabled) requireLimitsAllowATopup(c);
  if (!c.paymentMethodToken) throw badInput('input.paymentMethodToken', 'A payment method is required', 'PAYMENT_METHOD_REQUIRED');
  const rows = await sql.query(
    `insert into auto_topup_rule (wallet_id, enabled, threshold, topup_amount, target_balance, payment_method_token, daily_limit, monthly_limit, updated_at)
     values ($1,$2,$3,$4,$5,$6,$7,$8,$9)
     on conflict (wallet_id) do update set enabled = excluded.enabled, threshold = excluded.threshold, topup_amount = excluded.topup_amount, target_balance = excluded.target_balance,
       payment_method_token = excluded.payment_method_token, daily_limit = excluded.daily_limit, monthly_limit = excluded.monthly_limit, updated_at = excluded.updated_at
     returning *`,
    [wallet.id, c.enabled, c.threshold, c.topupAmount ?? null, c.targetBalance ?? null, c.paymentMethodToken, c.dailyLimit ?? null, c.monthlyLimit ?? null, c.now],
  );
  if (!c.enabled) {
    await cancelRequestsNotCharged(sql, wallet.id, c.now);
    await cancelStartedRecharges(sql, wallet.id, c.now);
  }
  // Already below the threshold (the unspent money, balance + held, as a crossing is judged): no
  // crossing is coming, so the rule asks now (once; see requestAutoTopupOnRuleSet). Read under the wallet lock taken above.
  const unspent = new Decimal(wallet.balance).plus(wallet.reserved);
  if (c.enabled && wallet.payment_mode === 'PREPAID' && unspent.lessThan(c.threshold)) {
    await requestAutoTopupOnRuleSet(sql, c.now, { walletId: wallet.id, billingAccountId: wallet.billing_account_id, currency: wallet.currency, unspent });
  }
  return rows[0]!;
}

/** Why a request was cancelled: its rule was turned off before any card recharge was made for it. */
export const AUTO_TOPUP_DISABLED = 'AUTO_TOPUP_DISABLED';

/**
 * A rule turned off takes back its requests that have no recharge yet (the autotopup consumer has not
 * made one): CANCELLED, so their event starts nothing, a budget set next is the only thing funding
 * the low balance, and they count against no limit. A request with a recharge is left to
 * cancelStartedRecharges (cancelled while its card is not captured, else left to finish). The
 * recharge names itself on its request in the transaction that makes it, holding the request's row
 * lock (recharge.ts): a cancel waiting for that lock then finds `recharge_id` set and leaves it,
 * and a recharge after a cancel finds the request CANCELLED and is refused before its row is written.
 */
async function cancelRequestsNotCharged(sql: Sql, walletId: string, now: Date): Promise<number> {
  const rows = await sql.query(
    `update topup_request set status = 'CANCELLED', reason = $2 where wallet_id = $1 and status = 'REQUESTED' and recharge_id is null returning id`,
    [walletId, `${AUTO_TOPUP_DISABLED}: the auto top-up rule was turned off at ${now.toISOString()} before this request reached the card; nothing was charged`],
  );
  return rows.length;
}

/**
 * A rule turned off also takes back the recharges its requests started whose card was not captured
 * yet (STARTING / STARTED, no `capture_started_at`): the recharge gets `cancelled_at` and its request
 * is CANCELLED (AUTO_TOPUP_DISABLED) at once. The workflow runs on, but its authorize and capture ask
 * wallets first (beginRechargeStep) and are refused RECHARGE_CANCELLED: it voids whatever it
 * authorized and ends failed, and settleRecharge records the recharge CANCELLED (the request stays
 * CANCELLED). The capture claims the recharge by updating the same row while `cancelled_at` is null,
 * and this update needs `capture_started_at` null: whichever updates the row first wins, the other
 * re-reads it after waiting for the row lock and does nothing. A recharge whose capture began is left
 * to finish (the card's money reaches the wallet, its request ends COMPLETED). Locks the recharge
 * rows, then their requests, as settleRecharge does. Turning it off again cancels nothing more.
 */
async function cancelStartedRecharges(sql: Sql, walletId: string, now: Date): Promise<number> {
  const rows = await sql.query(
    `with cancelled as (
       update recharge r set cancelled_at = $2
         from topup_request t
        where t.wallet_id = $1 and t.recharge_id = r.id and t.status in ('REQUESTED', 'RECHARGE_STARTED')
          and r.method = 'CARD' and r.status in ('STARTING', 'STARTED') and r.capture_started_at is null and r.cancelled_at is null
       returning r.id)
     update topup_request q set status = 'CANCELLED', reason = $3
       from cancelled c
      where q.wallet_id = $1 and q.recharge_id = c.id and q.status in ('REQUESTED', 'RECHARGE_STARTED')
     returning q.id`,
    [walletId, now, `${AUTO_TOPUP_DISABLED}: the auto top-up rule was turned off at ${now.toISOString()} before this request's card recharge was captured; the recharge is cancelled (its authorization voided) and nothing was charged`],
  );
  return rows.length;
}

/**
 * The auto top-up retry policy from `WALLETS_AUTO_TOPUP_RETRY_BACKOFF_MS` and
 * `WALLETS_AUTO_TOPUP_RETRY_MAX_PER_DAY`. Unset or empty: the default (an empty value read as
 * `Number('')` = 0 asked a declined card again at once, or never). Anything but a whole number
 * ≥ 0 stops start-up naming the setting.
 */
export function autoTopupRetryPolicyFromEnv(env: NodeJS.ProcessEnv): RetryPolicy {
  return {
    backoffMs: wholeSetting(env, 'WALLETS_AUTO_TOPUP_RETRY_BACKOFF_MS', DEFAULT_RETRY_POLICY.backoffMs, 'milliseconds'),
    maxDeclinedPerDay: wholeSetting(env, 'WALLETS_AUTO_TOPUP_RETRY_MAX_PER_DAY', DEFAULT_RETRY_POLICY.maxDeclinedPerDay, 'declined recharges per day'),
  };
}

function wholeSetting(env: NodeJS.ProcessEnv, setting: string, fallback: number, what: string): number {
  const raw = env[setting]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) throw new ConfigError(setting, `"${env[setting]}" is not a whole number of ${what} (0 or more)`);
  return value;
}
