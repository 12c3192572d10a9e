import { Decimal, deterministicId } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox, type OutboxRow } from '../persistence/sql';
import { crossedBucketThresholds, depleted, fellBelow } from '../domain/thresholds';
import { decideTopup, startOfUtcDay, startOfUtcMonth, type AutoTopupRule } from '../domain/auto-topup';
import { fmt } from '../domain/charging';
import { insertNotifications, type NotificationInput } from './buckets';
import { BUDGETS_BELOW_THRESHOLD, replenishBudgets, type BudgetBelowThreshold } from './budget';

export interface WalletChange {
  walletId: string;
  billingAccountId: string;
  currency: string;
  paymentMode: string;
  lowBalanceThreshold: Decimal | null;
  before: Decimal;
  after: Decimal;
  /** What caused it (a transaction id), so the same change always gives the same event id. */
  cause: string;
  /** Whether the wallet has an enabled budget or auto top-up rule, when the caller read it under the lock (see lockWallets); unknown = look. */
  hasRules?: boolean;
}

export interface BucketChange {
  bucketId: string;
  billingAccountId: string;
  allowanceId: string;
  unit: string;
  initial: Decimal;
  notifiedPercent: number;
  before: Decimal;
  after: Decimal;
}

/**
 * Turns balance movements into threshold events and customer notifications, in the same
 * database transaction as the movement: low balance, depleted, bucket 50/80/100 %, and the auto
 * top-up request a low balance starts. A wallet that is a committed-spend budget and fell below its
 * threshold is replenished here, in the same transaction (see budget.ts).
 */
export async function emitBalanceEvents(sql: Sql, now: Date, wallets: WalletChange[], buckets: BucketChange[]): Promise<void> {
  const notes: NotificationInput[] = [];
  const events: OutboxRow[] = [];
  const downs = wallets.filter((w) => w.after.lessThan(w.before));
  for (const w of downs) {
    const data = { walletId: w.walletId, billingAccountId: w.billingAccountId, balance: { amount: fmt(w.after), currency: w.currency } };
    if (fellBelow(w.before, w.after, w.lowBalanceThreshold)) {
      notes.push({ id: deterministicId('event', 'LOW_BALANCE', w.walletId, w.cause), billingAccountId: w.billingAccountId, walletId: w.walletId, bucketId: null, kind: 'LOW_BALANCE', message: `Your balance is ${w.after.toFixed(2)} ${w.currency}, below ${w.lowBalanceThreshold!.toFixed(2)} ${w.currency}. Top up to keep using the service.` });
      events.push(eventRow('balanceLow', w.walletId, [w.walletId, w.cause], now, { ...data, threshold: { amount: fmt(w.lowBalanceThreshold!), currency: w.currency } }));
    }
    if (w.paymentMode === 'PREPAID' && depleted(w.before, w.after)) {
      notes.push({ id: deterministicId('event', 'DEPLETED', w.walletId, w.cause), billingAccountId: w.billingAccountId, walletId: w.walletId, bucketId: null, kind: 'DEPLETED', message: `Your balance is used up; service stops until you top up.` });
      events.push(eventRow('balanceDepleted', w.walletId, [w.walletId, w.cause], now, data));
    }
  }
  const notified: { id: string; pct: number }[] = [];
  for (const b of buckets) {
    const crossed = crossedBucketThresholds(b.initial, b.before, b.after, b.notifiedPercent);
    for (const pct of crossed) {
      notes.push({ id: deterministicId('event', 'BUCKET', b.bucketId, String(pct)), billingAccountId: b.billingAccountId, walletId: null, bucketId: b.bucketId, kind: pct === 100 ? 'BUCKET_100' : `BUCKET_${pct}`, message: pct === 100 ? `Your ${b.allowanceId} allowance is used up.` : `You have used ${pct}% of your ${b.allowanceId} allowance (${b.after.toFixed()} ${b.unit} left).` });
      events.push(eventRow('bucketThreshold', b.bucketId, [b.bucketId, String(pct)], now, { bucketId: b.bucketId, billingAccountId: b.billingAccountId, allowanceId: b.allowanceId, percentUsed: pct, remaining: fmt(b.after), unit: b.unit }));
    }
    if (crossed.length > 0) notified.push({ id: b.bucketId, pct: Math.max(...crossed) });
  }
  if (notified.length > 0) {
    await sql.write(`update bucket b set notified_percent = greatest(b.notified_percent, t.pct) from unnest($1::text[], $2::int[]) as t(id, pct) where b.id = t.id`, [notified.map((n) => n.id), notified.map((n) => n.pct)]);
  }
  const ruled = downs.filter((w) => w.hasRules !== false);
  if (ruled.length > 0) {
    // One round trip for both rules a falling balance can trigger: budget replenishment and auto top-up.
    const found = await sql.query<{ rule: 'BUDGET' | 'TOPUP'; row: BudgetBelowThreshold & RuleRow }>(
      `select 'BUDGET' as rule, to_jsonb(x) as row from (${BUDGETS_BELOW_THRESHOLD}) x
       union all
       select 'TOPUP', to_jsonb(y) from (${TOPUP_RULES}) y`,
      [ruled.map((w) => w.walletId), startOfUtcDay(now), startOfUtcMonth(now)],
    );
    await replenishBudgets(sql, now, ruled.map((w) => ({ walletId: w.walletId, cause: w.cause })), events, found.filter((f) => f.rule === 'BUDGET').map((f) => f.row));
    await requestAutoTopups(sql, now, ruled, notes, events, found.filter((f) => f.rule === 'TOPUP').map((f) => f.row));
  }
  await insertNotifications(sql, notes, now);
  await insertOutbox(sql, events);
}

interface RuleRow {
  wallet_id: string;
  enabled: boolean;
  threshold: string;
  topup_amount: string | null;
  target_balance: string | null;
  payment_method_token: string;
  daily_limit: string | null;
  monthly_limit: string | null;
  today: string;
  month: string;
}

/**
 * Enabled auto top-up rules of the wallets in $1 with what was requested today ($2) and this month ($3); numbers as text.
 * Not of a wallet that is a committed-spend budget: its budget replenishes it (a rule stored before
 * the two were refused together would have paid for the same low balance a second time, by card).
 */
const COUNTED = `t.wallet_id = r.wallet_id and t.status not in ('LIMIT_REACHED', 'RECHARGE_DECLINED', 'RECHARGE_FAILED', 'RECHARGE_REFUNDED', 'RECHARGE_REFUSED')`;
const TOPUP_RULES = `select r.wallet_id, r.enabled, r.threshold::text as threshold, r.topup_amount::text as topup_amount, r.target_balance::text as target_balance, r.payment_method_token,
    r.daily_limit::text as daily_limit, r.monthly_limit::text as monthly_limit,
    coalesce((select sum(amount) from topup_request t where ${COUNTED} and t.requested_at >= $2), 0)::text as today,
    coalesce((select sum(amount) from topup_request t where ${COUNTED} and t.requested_at >= $3), 0)::text as month
  from auto_topup_rule r where r.wallet_id = any($1::text[]) and r.enabled
    and not exists (select 1 from budget b where b.wallet_id = r.wallet_id and b.enabled)`;

async function requestAutoTopups(sql: Sql, now: Date, downs: WalletChange[], notes: NotificationInput[], events: OutboxRow[], rules: RuleRow[]): Promise<void> {
  for (const r of rules) {
    const w = downs.find((d) => d.walletId === r.wallet_id)!;
    const rule: AutoTopupRule = {
      enabled: r.enabled,
      threshold: new Decimal(r.threshold),
      topupAmount: r.topup_amount === null ? null : new Decimal(r.topup_amount),
      targetBalance: r.target_balance === null ? null : new Decimal(r.target_balance),
      paymentMethodToken: r.payment_method_token,
      dailyLimit: r.daily_limit === null ? null : new Decimal(r.daily_limit),
      monthlyLimit: r.monthly_limit === null ? null : new Decimal(r.monthly_limit),
      currency: w.currency,
    };
    const decision = decideTopup(rule, w.before, w.after, new Decimal(r.today), new Decimal(r.month));
    if (decision.kind === 'NONE') continue;
    const id = deterministicId('event', 'AUTO_TOPUP', w.walletId, w.cause).replace(/^evt_/, 'atu_');
    const status = decision.kind === 'REQUEST' ? 'REQUESTED' : 'LIMIT_REACHED';
    const reason = decision.kind === 'LIMIT_REACHED' ? `${decision.limit}_LIMIT_REACHED` : null;
    await sql.write(
      `insert into topup_request (id, wallet_id, billing_account_id, amount, currency, payment_method_token, status, reason, requested_at) values ($1,$2,$3,$4,$5,$6,$7,$8,$9) on conflict (id) do nothing`,
      [id, w.walletId, w.billingAccountId, fmt(decision.amount), w.currency, r.payment_method_token, status, reason, now],
    );
    if (decision.kind === 'REQUEST') {
      events.push(eventRow('autoTopupRequested', w.walletId, [id], now, { topupRequestId: id, walletId: w.walletId, billingAccountId: w.billingAccountId, amount: { amount: fmt(decision.amount), currency: w.currency }, paymentMethodToken: r.payment_method_token }));
    } else {
      notes.push({ id: deterministicId('event', 'AUTO_TOPUP_LIMIT', id), billingAccountId: w.billingAccountId, walletId: w.walletId, bucketId: null, kind: 'AUTO_TOPUP_LIMIT', message: `Automatic top-up of ${decision.amount.toFixed(2)} ${w.currency} skipped: your ${decision.limit.toLowerCase()} limit is reached.` });
    }
  }
}
