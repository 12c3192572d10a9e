import { Decimal } from '@ledgerline/contracts';
import type { SubscriptionData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import type { PlanTerms } from '../adapters/catalog-client';
import { grantBucket } from './buckets';
import { openWallet } from './wallets';

const DAY = 86_400_000;

/**
 * The allowances of a new subscription become buckets for its first period (PERIOD validity: 30
 * days from the start until the bill-cycle period is known here; `{days}` as written). Unlimited
 * allowances are granted their fair-use cap. Idempotent by subscription + allowance.
 */
export async function grantFromSubscription(sql: Sql, d: SubscriptionData, terms: PlanTerms, now: Date): Promise<number> {
  const wallet = await openWallet(sql, { billingAccountId: d.billingAccountId, currency: d.currency, paymentMode: d.paymentMode, now });
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
      grantKey: `${d.subscriptionId}:${a.id}:${start.toISOString()}`,
      now,
    });
    granted++;
  }
  return granted;
}
