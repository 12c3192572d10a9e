import { Decimal } from '@ledgerline/contracts';
import type { SubscriptionData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import type { PlanTerms } from '../adapters/catalog-client';
import { grantBucket } from './buckets';
import { openWallet, walletById } from './wallets';

const DAY = 86_400_000;

/**
 * The allowances of a new subscription become buckets for its first period (PERIOD validity: 30
 * days from the start until the bill-cycle period is known here; `{days}` as written). Unlimited
 * allowances are granted their fair-use cap.
 *
 * A per-line allowance is one bucket per subscription (grant key subscription + allowance + start).
 * A SHARED allowance is one bucket per account, plan version, allowance and period, used by every
 * line: the first line's subscription grants it (its start opens the period), the account's other
 * lines on the same plan version find the active bucket whose period covers their start and
 * grant nothing. The wallet row is locked first, so two subscriptions of one account never race
 * to grant the pool twice. Idempotent: a redelivered event grants nothing.
 */
export async function grantFromSubscription(sql: Sql, d: SubscriptionData, terms: PlanTerms, now: Date): Promise<number> {
  const opened = await openWallet(sql, { billingAccountId: d.billingAccountId, currency: d.currency, paymentMode: d.paymentMode, now });
  const wallet = (await walletById(sql, opened.id, true))!;
  const policy = terms.balancePolicy;
  if (policy?.overdraftAllowed && policy.overdraftLimit && new Decimal(policy.overdraftLimit).greaterThan(wallet.overdraft_limit)) {
    await sql.query(`update wallet set overdraft_limit = $2 where id = $1`, [wallet.id, policy.overdraftLimit]);
  }
  let granted = 0;
  const start = new Date(d.startsAt);
  for (const a of terms.allowances) {
    const quantity = a.unlimited ? a.fairUseCap : a.quantity;
    if (!quantity) continue;
    const days = a.validity === 'PERIOD' ? 30 : a.validity.days;
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
      validTo: new Date(start.getTime() + days * DAY),
      rolloverPercent: a.rollover?.percent ?? null,
      grantKey: a.shared ? `${pool}${start.toISOString()}` : `${d.subscriptionId}:${a.id}:${start.toISOString()}`,
      now,
    });
    granted++;
  }
  return granted;
}
