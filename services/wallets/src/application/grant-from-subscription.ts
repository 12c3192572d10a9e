import { Decimal } from '@ledgerline/contracts';
import type { SubscriptionData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import type { PlanTerms } from '../adapters/catalog-client';
import { periodEndOf } from '../domain/allowance-period';
import { BUCKET_SELECT, grantBucket, type BucketRow } from './buckets';
import { openWallet, walletById } from './wallets';
import { trackSubscription } from './subscription-terms';
import { FEE_REFUSED, markFeeDue, markFeeRefused, payPeriodFee, periodFeeOf } from './period-fee';

const DAY = 86_400_000;

/** The subscription fields a grant needs. */
export type GrantSubject = Pick<SubscriptionData, 'subscriptionId' | 'billingAccountId' | 'lineId' | 'planVersionId'>;

/**
 * The allowances of a new subscription become buckets for its first period (PERIOD validity: until
 * the end of the allowance period, see `periodEndOf`; `{days}` as written), and the subscription
 * is tracked so the renewal job grants the next periods. A subscription of a line not yet
 * activated (PENDING) is only tracked: nothing is paid or granted until the line is activated
 * (`activateSubscription`), so an activation that fails costs the customer nothing. A prepaid plan with a recurring fee takes
 * the first period's fee from the balance first; when it does not cover it nothing is granted
 * until a top-up does (see period-fee.ts); a closed wallet refuses the fee for good (markFeeRefused). Unlimited allowances are granted their fair-use cap.
 * Idempotent: a redelivered event takes and grants nothing more.
 */
export async function grantFromSubscription(sql: Sql, d: SubscriptionData, terms: PlanTerms, now: Date): Promise<number> {
  const opened = await openWallet(sql, { billingAccountId: d.billingAccountId, currency: d.currency, paymentMode: d.paymentMode, now });
  const wallet = (await walletById(sql, opened.id, true))!;
  const policy = terms.balancePolicy;
  if (policy?.overdraftAllowed && policy.overdraftLimit && new Decimal(policy.overdraftLimit).greaterThan(wallet.overdraft_limit)) {
    await sql.query(`update wallet set overdraft_limit = $2 where id = $1`, [wallet.id, policy.overdraftLimit]);
  }
  const start = new Date(d.startsAt);
  await trackSubscription(sql, d, terms, now);
  if (d.status === 'PENDING') return 0;
  const term = { subscription_id: d.subscriptionId, billing_account_id: d.billingAccountId, line_id: d.lineId, payment_mode: d.paymentMode, currency: d.currency };
  if (!periodFeeOf(term, terms).isZero()) {
    // A prepaid bundle is paid before its allowances are given. Once the renewal job has the
    // subscription (it renewed it, or waits for a top-up) a redelivered event leaves it alone.
    const [row] = await sql.query<{ fee_state: string | null; renewals: number }>(`select fee_state, renewals from subscription_term where subscription_id = $1 for update`, [d.subscriptionId]);
    if (!row || row.renewals > 0 || row.fee_state === 'DUE' || row.fee_state === FEE_REFUSED) return 0;
    // One that starts later (an end-of-cycle plan change) is paid and granted by the job when it starts.
    if (start > now) {
      await sql.query(`update subscription_term set period_end = period_start where subscription_id = $1`, [d.subscriptionId]);
      return 0;
    }
    const payment = await payPeriodFee(sql, term, terms, start, now);
    if ('refused' in payment) {
      await markFeeRefused(sql, term, now);
      return 0;
    }
    if (!payment.paid) {
      await markFeeDue(sql, term, payment, start, false, now);
      return 0;
    }
  }
  return grantAllowances(sql, d, terms, start, periodEndOf(start, terms.recurringFee?.period), now);
}

/**
 * Grants a plan's allowances for the period [start, periodEnd).
 *
 * A per-line allowance is one bucket per subscription (grant key subscription + allowance + start).
 * A SHARED allowance is one bucket per account, plan version, allowance and period, used by every
 * line: the first line's subscription grants it (its start opens the period), the account's other
 * lines on the same plan version find the active bucket whose period covers their start and
 * grant nothing (under lockSharedPools, so two of them never grant the pool twice). The pool then
 * renews on its own cadence while a member's paid period covers its end (renewDueSharedPools).
 */
export async function grantAllowances(sql: Sql, d: GrantSubject, terms: PlanTerms, start: Date, periodEnd: Date, now: Date): Promise<number> {
  if (terms.allowances.some((a) => a.shared)) await lockSharedPools(sql, d.billingAccountId);
  let granted = 0;
  for (const a of terms.allowances) if (await grantAllowance(sql, d, a, start, periodEnd, now)) granted++;
  return granted;
}

export type Allowance = PlanTerms['allowances'][number];

/** Grants one allowance for the period starting at `start`: false when it grants nothing (no quantity, or a shared pool already covers `start`). */
export async function grantAllowance(sql: Sql, d: GrantSubject, a: Allowance, start: Date, periodEnd: Date, now: Date): Promise<boolean> {
  const quantity = a.unlimited ? a.fairUseCap : a.quantity;
  if (!quantity) return false;
  const validTo = a.validity === 'PERIOD' ? periodEnd : new Date(start.getTime() + a.validity.days * DAY);
  if (a.shared && (await sharedPoolCovering(sql, d, a.id, start))) return false;
  await grantBucket(sql, {
    billingAccountId: d.billingAccountId,
    lineId: a.shared ? null : d.lineId,
    allowanceId: a.id,
    name: a.name ?? a.id,
    unit: a.unit,
    quantity,
    validFrom: start,
    validTo,
    rolloverPercent: a.rollover?.percent ?? null,
    grantKey: allowanceGrantKey(d, a.id, a.shared === true, start),
    now,
  });
  return true;
}

/**
 * Serializes everything that opens an account's shared pools (a line's first grant, a line's
 * renewal, the pool's own renewal) until the transaction ends: whoever comes second finds the pool
 * covering its start and grants nothing. Taken before any of them writes to a unit account, so
 * they cannot deadlock on one.
 */
export async function lockSharedPools(sql: Sql, billingAccountId: string): Promise<void> {
  await sql.query(`select pg_advisory_xact_lock(hashtext('shared-pools:' || $1::text))`, [billingAccountId]);
}

/** The LIKE pattern of every period's pool of a shared allowance (the account's lines on one plan version). */
function sharedPoolPattern(d: GrantSubject, allowanceId: string): string {
  return `${`shared:${d.billingAccountId}:${d.planVersionId}:${allowanceId}:`.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

/** Whether an active pool of this shared allowance covers `at` (another line opened its period). */
export async function sharedPoolCovering(sql: Sql, d: GrantSubject, allowanceId: string, at: Date): Promise<boolean> {
  const rows = await sql.query(
    `select 1 from bucket where billing_account_id = $1 and line_id is null and allowance_id = $2 and grant_key like $3 and status = 'ACTIVE' and valid_from <= $4 and valid_to > $4 limit 1`,
    [d.billingAccountId, allowanceId, sharedPoolPattern(d, allowanceId), at],
  );
  return rows.length > 0;
}

/**
 * The shared allowance's pool that ended by `end` and is still active (what it has left can roll
 * over), if any; locked with its ledger account, so the expiry job cannot forfeit what is carried.
 */
export async function endedSharedPool(sql: Sql, d: GrantSubject, allowanceId: string, end: Date): Promise<BucketRow | undefined> {
  return (await sql.query<BucketRow>(
    `${BUCKET_SELECT} where b.billing_account_id = $1 and b.line_id is null and b.allowance_id = $2 and b.grant_key like $3 and b.status = 'ACTIVE' and b.valid_to <= $4 order by b.valid_to desc limit 1 for update of b, a`,
    [d.billingAccountId, allowanceId, sharedPoolPattern(d, allowanceId), end],
  ))[0];
}

/** The grant key of an allowance's bucket for the period starting at `start`. */
export function allowanceGrantKey(d: GrantSubject, allowanceId: string, shared: boolean, start: Date): string {
  return shared ? `shared:${d.billingAccountId}:${d.planVersionId}:${allowanceId}:${start.toISOString()}` : `${d.subscriptionId}:${allowanceId}:${start.toISOString()}`;
}
