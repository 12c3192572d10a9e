import { LockMode } from '@mikro-orm/core';
import { conflict, newId, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { feesOn } from '../domain/plan-terms';
import { BillingAccount, Line, ProductOrder, Subscription, type OneOffCharge } from '../persistence/entities';
import { onPostgres } from '../persistence/platform';
import type { CatalogClient } from '../ports/catalog-client';
import { emitOneOffCharge, emitSubscription } from './events';
import { assertPlanFits, findPlan, LIVE_SUBSCRIPTION } from './plans';
import { lockLine } from './line-orders';
import { applyDueSubscriptions } from './activate-due-subscriptions';
import { planFeeCharges } from './plan-fees';
import { assertAccountOpen } from './close-billing-account';

export interface SubscribeCommand {
  lineId: string;
  planCode: string;
  now: Date;
}

/**
 * Puts a line without a plan on the current version of `planCode` (a change of plan is changePlan),
 * charging the plan's ACTIVATION fees once, as a line ordered with the plan pays them: a live line
 * at once (one-off charges keyed by the new subscription, no order); a line still PENDING when its
 * NEW_LINE order completes, which then carries them as if the plan had been ordered with the line
 * (a line that never goes live pays nothing). A retry finds the plan on the line and is refused
 * (`SUBSCRIPTION_ALREADY_EXISTS`), charging nothing more.
 */
export async function subscribe(em: Em, catalog: CatalogClient, c: SubscribeCommand): Promise<Subscription> {
  // The NEW_LINE order of a line still PENDING, locked before the line (as completing it locks them):
  // it completes either before this (the line is then live here) or after (carrying the fees).
  const activation = await openActivationOrder(em, c.lineId);
  // Locked: completing the line's NEW_LINE order (which activates its PENDING plans) or another
  // subscribe waits for this one, and this one sees the line as they leave it.
  const line = await lockLine(em, c.lineId);
  if (!line) throw notFound('Line', c.lineId, 'input.lineId');
  // A plan change due since the boundary is started first (the sweep's step), so the plan named below is the one in force.
  await applyDueSubscriptions(em, line, c.now);
  // A closed account takes no new plan (its lines are all terminated; this says why).
  assertAccountOpen(await em.findOneOrFail(BillingAccount, { id: line.billingAccountId }), 'input.lineId');
  if (line.status === 'TERMINATED') throw conflict('LINE_TERMINATED_CONFLICT', `Line ${line.id} is terminated`, { field: 'input.lineId' });
  const existing = await em.findOne(Subscription, { lineId: line.id, status: { $in: LIVE_SUBSCRIPTION } });
  if (existing) throw conflict('SUBSCRIPTION_ALREADY_EXISTS', `Line ${line.id} is already on ${existing.planCode}; use changePlan`, { field: 'input.lineId' });
  const account = await em.findOneOrFail(BillingAccount, { id: line.billingAccountId });
  const resolved = await findPlan(catalog, c.planCode);
  await assertPlanFits(em, resolved, account, { lineId: line.id, now: c.now });
  const fees = feesOn(resolved.terms, 'ACTIVATION');
  const sub = em.create(Subscription, {
    id: newId('subscription'),
    lineId: line.id,
    billingAccountId: account.id,
    planCode: resolved.terms.code,
    planVersionId: resolved.plan.versionId,
    status: line.status === 'PENDING' ? 'PENDING' : 'ACTIVE',
    sharedAllowances: resolved.terms.sharedAllowances,
    addOns: '[]',
    startsAt: c.now,
    endsAt: null,
    createdAt: c.now,
  });
  line.planCode = sub.planCode;
  line.updatedAt = c.now;
  let charges: OneOffCharge[] = [];
  if (line.status !== 'PENDING') {
    charges = planFeeCharges(em, { orderId: null, chargeKey: sub.id, line, account, subscriptionId: sub.id, fees, trigger: 'ACTIVATION', now: c.now });
  } else if (activation) {
    // Charged by `completeOrder` with the order's charge ids, like an addLine with the plan.
    activation.request = JSON.stringify({ ...(JSON.parse(activation.request) as Record<string, unknown>), subscriptionId: sub.id, fees });
    activation.updatedAt = c.now;
  }
  emitSubscription(em, 'subscriptionCreated', sub, line, account, c.now.toISOString(), c.now);
  await em.flush();
  for (const charge of charges) emitOneOffCharge(em, charge);
  await em.flush();
  return sub;
}

/**
 * The open NEW_LINE order of a line still PENDING, row-locked on PostgreSQL; null for a line
 * already live (it never goes back to PENDING) and for one whose NEW_LINE order failed.
 */
async function openActivationOrder(em: Em, lineId: string): Promise<ProductOrder | null> {
  const line = await em.findOne(Line, { id: lineId });
  if (line?.status !== 'PENDING') return null;
  const postgres = onPostgres(em);
  return em.findOne(ProductOrder, { lineId, kind: 'NEW_LINE', status: { $in: ['ACKNOWLEDGED', 'IN_PROGRESS'] } }, postgres ? { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true } : {});
}
