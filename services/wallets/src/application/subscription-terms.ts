import type { SubscriptionData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import type { PlanTerms } from '../adapters/catalog-client';
import { periodEndOf } from '../domain/allowance-period';
import { refundUnusedPeriod } from './period-fee';
import { settleAfterCredit } from './one-off-charges';
import { allowanceGrantKey, grantFromSubscription } from './grant-from-subscription';
import { lockAccountWallets } from './wallets';

export interface SubscriptionTermRow {
  subscription_id: string;
  billing_account_id: string;
  line_id: string;
  plan_version_id: string;
  payment_mode: 'PREPAID' | 'POSTPAID';
  currency: string;
  status: string;
  starts_at: Date;
  ends_at: Date | null;
  period_start: Date;
  period_end: Date;
  /** Whose day of the month calendar-month periods keep: the start, or the moment a late renewal restarted them. */
  anchor_at: Date;
  /** DUE: the last renewal found the prepaid balance short of the fee; retried on every pass. */
  fee_state: string | null;
  /** When a DUE fee is tried again (a top-up brings it forward). */
  retry_at: Date | null;
  renewals: number;
  updated_at: Date;
}

/**
 * Keeps wallets' copy of a subscription (from subscribers' created/changed events): a new one
 * starts its first allowance period at its start; a change updates status and end, never the
 * period (that is the renewal job's). Replaying an event changes nothing.
 */
export async function trackSubscription(sql: Sql, d: SubscriptionData, terms: PlanTerms, now: Date): Promise<void> {
  const start = new Date(d.startsAt);
  await sql.query(
    `insert into subscription_term (subscription_id, billing_account_id, line_id, plan_version_id, payment_mode, currency, status, starts_at, ends_at, period_start, period_end, anchor_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $10, $8, $11)
     on conflict (subscription_id) do update set status = excluded.status, ends_at = excluded.ends_at, updated_at = excluded.updated_at`,
    [d.subscriptionId, d.billingAccountId, d.lineId, d.planVersionId, d.paymentMode, d.currency, d.status, start, d.endsAt ? new Date(d.endsAt) : null, periodEndOf(start, terms.recurringFee?.period), now],
  );
}

/**
 * Follows subscribers' `subscription.changed`: status and end for the renewal job; the activation
 * of a pending line pays and grants its first period (`activateSubscription`); an end also ends
 * the subscription's own buckets and, for a prepaid fee taken under terms that prorate it daily
 * (the fee transaction's record, not `terms` now), gives back the unused
 * days of the period it paid for (`refundUnusedPeriod`), which pays what is due on the account first
 * (`settleAfterCredit`, as every credit does). Replaying the event changes nothing.
 */
export async function followSubscriptionChange(sql: Sql, d: SubscriptionData, terms: PlanTerms | null, now: Date): Promise<void> {
  const [before] = await sql.query<Pick<SubscriptionTermRow, 'status' | 'starts_at'>>(`select status, starts_at from subscription_term where subscription_id = $1 for update`, [d.subscriptionId]);
  if (terms && before?.status === 'PENDING' && d.status === 'ACTIVE') await activateSubscription(sql, d, terms, before.starts_at, now);
  else if (terms) await trackSubscription(sql, d, terms, now);
  if (!d.endsAt) return;
  const endsAt = new Date(d.endsAt);
  await endSubscriptionBuckets(sql, d.subscriptionId, endsAt);
  const [term] = await sql.query<SubscriptionTermRow>(`select * from subscription_term where subscription_id = $1 for update`, [d.subscriptionId]);
  if (!term) return;
  // Whether the unused days come back is the fee's own record (the terms it was taken under), so a
  // catalog that no longer answers for the version (terms null) does not keep the refund back.
  // The refund is a credit like any other: it pays what is due (settleAfterCredit), here, under the
  // wallet lock the refund took. Nothing refunded (no refund owed, or a redelivered end): nothing paid.
  if ((await refundUnusedPeriod(sql, term, terms, endsAt, now)).greaterThan(0)) await settleAfterCredit(sql, term.billing_account_id, term.currency, now);
}

/**
 * A line activated: its subscription's first period starts at the activation (subscribers moves
 * `startsAt` there), and is paid and granted now. A subscription that was already paid or granted
 * at its creation (`created`: before wallets waited for activations) keeps its period.
 */
async function activateSubscription(sql: Sql, d: SubscriptionData, terms: PlanTerms, created: Date, now: Date): Promise<void> {
  const keys = terms.allowances.map((a) => allowanceGrantKey(d, a.id, false, created));
  const granted = await sql.query(
    `select 1 from bucket where grant_key = any($1::text[]) union all select 1 from ledger_transaction where idempotency_key = $2 limit 1`,
    [keys, `RENEWAL:${d.subscriptionId}:${created.toISOString()}`],
  );
  if (granted.length > 0) return void (await trackSubscription(sql, d, terms, now));
  const start = new Date(d.startsAt);
  await sql.query(`update subscription_term set starts_at = $2, period_start = $2, period_end = $3, anchor_at = $2 where subscription_id = $1`, [d.subscriptionId, start, periodEndOf(start, terms.recurringFee?.period)]);
  await grantFromSubscription(sql, d, terms, now);
}

/**
 * A subscription that ends (terminated line, plan change) takes its own allowances with it: its
 * per-line buckets that run past the end now end there, and the expiry job forfeits what is left.
 * Shared pool buckets stay: the account's other lines still use them.
 *
 * In charging's lock order: the account's wallets first (`lockAccountWallets`), then the buckets
 * in id order, then the write. Before, the buckets were updated without the wallet lock and in
 * scan order: a charge batch or a reservation close (wallet, then buckets) deadlocked (40P01) with
 * an end that then locked the wallet for its refund (`refundUnusedPeriod`;
 * end-subscription-lock-order.test.ts), and could with one whose update reached two of the
 * charge's buckets against id order (bucket ids are random).
 */
export async function endSubscriptionBuckets(sql: Sql, subscriptionId: string, endsAt: Date): Promise<number> {
  const prefix = `${subscriptionId.replace(/[\\%_]/g, (ch) => `\\${ch}`)}:%`;
  const ending = `grant_key like $1 and line_id is not null and status = 'ACTIVE' and valid_to > $2`;
  // Whose wallets to lock (a subscription's, one account; a bucket's account never changes): nothing to end, no lock.
  const accounts = await sql.query<{ billing_account_id: string }>(`select distinct billing_account_id from bucket where ${ending} order by billing_account_id`, [prefix, endsAt]);
  if (accounts.length === 0) return 0;
  for (const a of accounts) await lockAccountWallets(sql, a.billing_account_id);
  const locked = await sql.query<{ id: string }>(
    `select id from bucket where ${ending} and billing_account_id = any($3::text[]) order by id for update`,
    [prefix, endsAt, accounts.map((a) => a.billing_account_id)],
  );
  if (locked.length === 0) return 0;
  const rows = await sql.query(
    `update bucket set valid_to = greatest(valid_from, $2::timestamptz) where id = any($1::text[]) and status = 'ACTIVE' and valid_to > $2 returning id`,
    [locked.map((b) => b.id), endsAt],
  );
  return rows.length;
}

/** The account's subscriptions as wallets renews them, newest first. */
export async function subscriptionTermsOf(sql: Sql, billingAccountId: string): Promise<SubscriptionTermRow[]> {
  return sql.query<SubscriptionTermRow>(`select * from subscription_term where billing_account_id = $1 order by starts_at desc, subscription_id`, [billingAccountId]);
}
