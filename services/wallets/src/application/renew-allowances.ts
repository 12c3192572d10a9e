import { Decimal, deterministicId } from '@ledgerline/contracts';
import type { Logger } from '@ledgerline/platform';
import type { Db, Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import type { CatalogClient, PlanTerms } from '../adapters/catalog-client';
import { covers, periodEndOf, rolloverOf } from '../domain/allowance-period';
import { fmt } from '../domain/charging';
import { accountId, newTxId, postTransactions } from './ledger';
import { BUCKET_SELECT, grantBucket, insertNotifications, type BucketRow } from './buckets';
import { allowanceGrantKey, grantAllowances } from './grant-from-subscription';
import { emitBalanceEvents } from './balance-events';
import { walletOf } from './wallets';
import type { SubscriptionTermRow } from './subscription-terms';

export type RenewalOutcome = 'RENEWED' | 'FEE_NOT_COVERED' | 'NOT_DUE';

/**
 * The renewal job: every live subscription whose allowance period has ended gets the next one,
 * each in its own transaction. Periods missed while the job was not running are skipped (nobody
 * can use a past allowance). Safe on several replicas: the subscription row is locked and the
 * due check repeated under the lock; every write is keyed by subscription and period.
 */
export async function renewDueAllowances(db: Db, catalog: CatalogClient, now: Date, logger?: Logger, limit = 200): Promise<Record<RenewalOutcome, number>> {
  const counts: Record<RenewalOutcome, number> = { RENEWED: 0, FEE_NOT_COVERED: 0, NOT_DUE: 0 };
  const due = await db.query<{ subscription_id: string; plan_version_id: string }>(
    `select subscription_id, plan_version_id from subscription_term
      where status in ('ACTIVE', 'SCHEDULED') and period_end <= $1 and (ends_at is null or ends_at > period_end)
        and (fee_state is null or fee_state <> 'DUE' or updated_at <= $2)
      order by period_end limit $3`,
    // A renewal refused for want of balance is tried again at most once a minute.
    [now, new Date(now.getTime() - 60_000), limit],
  );
  const plans = new Map<string, PlanTerms | null>();
  for (const row of due) {
    if (!plans.has(row.plan_version_id)) plans.set(row.plan_version_id, await catalog.planTerms(row.plan_version_id));
    const terms = plans.get(row.plan_version_id);
    if (!terms) {
      logger?.warn({ subscriptionId: row.subscription_id, planVersionId: row.plan_version_id }, 'allowance renewal skipped: the plan version is unknown to catalog');
      continue;
    }
    try {
      counts[await db.tx((sql) => renewSubscription(sql, row.subscription_id, terms, now))]++;
    } catch (error) {
      // One subscription that cannot be renewed must not hold up the others; it is tried again next pass.
      logger?.error({ err: error, subscriptionId: row.subscription_id }, 'allowance renewal failed');
    }
  }
  return counts;
}

/**
 * Renews one subscription's allowances if its period has ended: a prepaid plan's recurring fee is
 * taken from the balance first (refused when the balance and overdraft do not cover it: nothing is
 * granted, the customer is told once, and a later pass renews from the moment a top-up covers it);
 * then the plan's allowances are granted for the new period, and what each per-line allowance's
 * rollover rule carries over moves from the ending bucket into a bucket of the new period that is
 * drawn first.
 */
export async function renewSubscription(sql: Sql, subscriptionId: string, terms: PlanTerms, now: Date): Promise<RenewalOutcome> {
  const [term] = await sql.query<SubscriptionTermRow>(`select * from subscription_term where subscription_id = $1 for update`, [subscriptionId]);
  if (!term || !['ACTIVE', 'SCHEDULED'].includes(term.status) || term.period_end > now || (term.ends_at && term.ends_at <= term.period_end)) return 'NOT_DUE';
  const feePeriod = terms.recurringFee?.period;
  // On time: the next period follows the last one (skipping any that passed unseen). Late for want of balance: it starts now.
  const late = term.fee_state === 'DUE';
  let start = late ? now : term.period_end;
  // Calendar months keep the subscription's day of the month; a late renewal starts a new anchor.
  const anchor = late ? now : term.anchor_at;
  while (periodEndOf(start, feePeriod, anchor) <= now) start = periodEndOf(start, feePeriod, anchor);
  const end = periodEndOf(start, feePeriod, anchor);

  const wallet = await walletOf(sql, term.billing_account_id, term.currency, true);
  const fee = term.payment_mode === 'PREPAID' && terms.recurringFee ? new Decimal(terms.recurringFee.amount) : new Decimal(0);
  if (fee.greaterThan(0)) {
    if (!wallet) return 'NOT_DUE';
    const balance = new Decimal(wallet.balance);
    if (!covers(balance, new Decimal(wallet.overdraft_limit), fee)) {
      if (term.fee_state !== 'DUE') await tellNotRenewed(sql, term, fee, balance, now);
      await sql.query(`update subscription_term set fee_state = 'DUE', updated_at = $2 where subscription_id = $1`, [subscriptionId, now]);
      return 'FEE_NOT_COVERED';
    }
    const txId = newTxId();
    await postTransactions(sql, [{
      id: txId,
      idempotencyKey: `RENEWAL:${subscriptionId}:${start.toISOString()}`,
      kind: 'RECURRING_FEE',
      billingAccountId: term.billing_account_id,
      reference: subscriptionId,
      entries: [
        { accountId: wallet.id, unit: term.currency, amount: fee.negated() },
        { accountId: accountId(term.billing_account_id, 'REVENUE', term.currency), unit: term.currency, amount: fee },
      ],
    }], now);
    await emitBalanceEvents(sql, now, [{
      walletId: wallet.id, billingAccountId: wallet.billing_account_id, currency: wallet.currency, paymentMode: wallet.payment_mode,
      lowBalanceThreshold: wallet.low_balance_threshold === null ? null : new Decimal(wallet.low_balance_threshold), before: balance, after: balance.minus(fee), cause: txId,
    }], []);
  }

  const subject = { subscriptionId, billingAccountId: term.billing_account_id, lineId: term.line_id, planVersionId: term.plan_version_id };
  const rolled: { allowanceId: string; quantity: string }[] = [];
  for (const a of terms.allowances) {
    if (a.shared || !a.rollover) continue;
    const [ending] = await sql.query<BucketRow>(`${BUCKET_SELECT} where b.grant_key = $1 and b.status = 'ACTIVE'`, [allowanceGrantKey(subject, a.id, false, term.period_start)]);
    const carried = ending ? rolloverOf(new Decimal(ending.remaining), a.rollover) : new Decimal(0);
    if (!ending || carried.isZero()) continue;
    await grantBucket(sql, {
      billingAccountId: term.billing_account_id, lineId: term.line_id, allowanceId: a.id, name: `${a.name ?? a.id} (rollover)`, unit: a.unit, quantity: fmt(carried),
      // Drawn before the period's own allowance (lower priority first): what was carried over goes first.
      priority: 50, validFrom: start, validTo: end, grantKey: `${subscriptionId}:${a.id}:rollover:${start.toISOString()}`, fromBucketId: ending.id, now,
    });
    rolled.push({ allowanceId: a.id, quantity: fmt(carried) });
  }
  const granted = await grantAllowances(sql, subject, terms, start, end, now);
  await sql.query(
    `update subscription_term set period_start = $2, period_end = $3, anchor_at = $4, fee_state = null, renewals = renewals + 1, updated_at = $5 where subscription_id = $1`,
    [subscriptionId, start, end, anchor, now],
  );
  await insertOutbox(sql, [eventRow('bundleRenewed', subscriptionId, [subscriptionId, start.toISOString()], now, {
    subscriptionId, billingAccountId: term.billing_account_id, lineId: term.line_id, planVersionId: term.plan_version_id,
    periodStart: start.toISOString(), periodEnd: end.toISOString(), fee: fee.greaterThan(0) ? { amount: fmt(fee), currency: term.currency } : null, allowancesGranted: granted, rollover: rolled,
  })]);
  return 'RENEWED';
}

async function tellNotRenewed(sql: Sql, term: SubscriptionTermRow, fee: Decimal, balance: Decimal, now: Date): Promise<void> {
  const period = term.period_end.toISOString();
  await insertNotifications(sql, [{
    id: deterministicId('message', 'BUNDLE_NOT_RENEWED', term.subscription_id, period), billingAccountId: term.billing_account_id, walletId: null, bucketId: null, kind: 'BUNDLE_NOT_RENEWED',
    message: `Your bundle could not be renewed: it costs ${fee.toFixed(2)} ${term.currency} and your balance is ${balance.toFixed(2)} ${term.currency}. Top up to renew it.`,
  }], now);
  await insertOutbox(sql, [eventRow('bundleRenewalFailed', term.subscription_id, [term.subscription_id, period], now, {
    subscriptionId: term.subscription_id, billingAccountId: term.billing_account_id, lineId: term.line_id, fee: { amount: fmt(fee), currency: term.currency }, balance: { amount: fmt(balance), currency: term.currency }, periodEnded: period,
  })]);
}
