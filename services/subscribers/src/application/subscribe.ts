import { conflict, newId, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { BillingAccount, Subscription } from '../persistence/entities';
import type { CatalogClient } from '../ports/catalog-client';
import { emitSubscription } from './events';
import { assertPlanFits, findPlan, LIVE_SUBSCRIPTION } from './plans';
import { lockLine } from './line-orders';

export interface SubscribeCommand {
  lineId: string;
  planCode: string;
  now: Date;
}

/** Puts a line without a plan on the current version of `planCode` (a change of plan is changePlan). */
export async function subscribe(em: Em, catalog: CatalogClient, c: SubscribeCommand): Promise<Subscription> {
  // Locked: completing the line's NEW_LINE order (which activates its PENDING plans) or another
  // subscribe waits for this one, and this one sees the line as they leave it.
  const line = await lockLine(em, c.lineId);
  if (!line) throw notFound('Line', c.lineId, 'input.lineId');
  if (line.status === 'TERMINATED') throw conflict('LINE_TERMINATED_CONFLICT', `Line ${line.id} is terminated`, { field: 'input.lineId' });
  const existing = await em.findOne(Subscription, { lineId: line.id, status: { $in: LIVE_SUBSCRIPTION } });
  if (existing) throw conflict('SUBSCRIPTION_ALREADY_EXISTS', `Line ${line.id} is already on ${existing.planCode}; use changePlan`, { field: 'input.lineId' });
  const account = await em.findOneOrFail(BillingAccount, { id: line.billingAccountId });
  const resolved = await findPlan(catalog, c.planCode);
  await assertPlanFits(em, resolved, account, { lineId: line.id, now: c.now });
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
  emitSubscription(em, 'subscriptionCreated', sub, line, account, c.now.toISOString(), c.now);
  await em.flush();
  return sub;
}
