import { Decimal } from '@ledgerline/contracts';
import type { SubscriptionData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import type { PlanTerms } from '../adapters/catalog-client';
import { periodEndOf } from '../domain/allowance-period';
import { grantBucket } from './buckets';
import { openWallet, walletById } from './wallets';
import { trackSubscription } from './subscription-terms';

const DAY = 86_400_000;

/** The subscription fields a grant needs. */
export type GrantSubject = Pick<SubscriptionData, 'subscriptionId' | 'billingAccountId' | 'lineId' | 'planVersionId'>;

/**
 * The allowances of a new subscription become buckets for its first period (PERIOD validity: until
 * the end of the allowance period, see `periodEndOf`; `{days}` as written), and the subscription
 * is tracked so the renewal job grants the next periods. Unlimited allowances are granted their
 * fair-use cap. Idempotent: a redelivered event grants nothing.
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
  return grantAllowances(sql, d, terms, start, periodEndOf(start, terms.recurringFee?.period), now);
}

/**
 * Grants a plan's allowances for the period [start, periodEnd).
 *
 * A per-line allowance is one bucket per subscription (grant key subscription + allowance + start).
 * A SHARED allowance is one bucket per account, plan version, allowance and period, used by every
 * line: the first line's subscription grants it (its start opens the period), the account's other
 * lines on the same plan version find the active bucket whose period covers their start and
 * grant nothing. The caller holds the wallet row lock, so two subscriptions of one account never
 * race to grant the pool twice.
 */
export async function grantAllowances(sql: Sql, d: GrantSubject, terms: PlanTerms, start: Date, periodEnd: Date, now: Date): Promise<number> {
  let granted = 0;
  for (const a of terms.allowances) {
    const quantity = a.unlimited ? a.fairUseCap : a.quantity;
    if (!quantity) continue;
    const validTo = a.validity === 'PERIOD' ? periodEnd : new Date(start.getTime() + a.validity.days * DAY);
    const pool = `shared:${d.billingAccountId}:${d.planVersionId}:${a.id}:`;
    if (a.shared) {
      const covering = await sql.query(
        `select 1 from bucket where billing_account_id = $1 and line_id is null and allowance_id = $2 and grant_key like $3 and status = 'ACTIVE' and valid_from <= $4 and valid_to > $4 limit 1`,
        [d.billingAccountId, a.id, `${pool.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`, start],
      );
      if (covering.length > 0) continue;
    }
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
    granted++;
  }
  return granted;
}

/** The grant key of an allowance's bucket for the period starting at `start`. */
export function allowanceGrantKey(d: GrantSubject, allowanceId: string, shared: boolean, start: Date): string {
  return shared ? `shared:${d.billingAccountId}:${d.planVersionId}:${allowanceId}:${start.toISOString()}` : `${d.subscriptionId}:${allowanceId}:${start.toISOString()}`;
}
