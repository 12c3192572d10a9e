import type { Em } from '@ledgerline/platform';
import { BillingAccount, Line, Subscription } from '../persistence/entities';
import { emitSubscription } from './events';

/**
 * Moves end-of-cycle plan changes on when their time comes: ACTIVE subscriptions whose end has
 * passed become ENDED, SCHEDULED ones whose start has passed become ACTIVE. Idempotent; run by a
 * background timer (and by tests with a moved clock).
 */
export async function activateDueSubscriptions(em: Em, now: Date, limit = 500): Promise<number> {
  const ending = await em.find(Subscription, { status: 'ACTIVE', endsAt: { $lte: now } }, { limit, orderBy: { endsAt: 'asc' } });
  const starting = await em.find(Subscription, { status: 'SCHEDULED', startsAt: { $lte: now } }, { limit, orderBy: { startsAt: 'asc' } });
  const lines = new Map((await em.find(Line, { id: { $in: [...ending, ...starting].map((s) => s.lineId) } })).map((l) => [l.id, l]));
  const accounts = new Map((await em.find(BillingAccount, { id: { $in: [...lines.values()].map((l) => l.billingAccountId) } })).map((a) => [a.id, a]));
  for (const sub of ending) {
    sub.status = 'ENDED';
    const line = lines.get(sub.lineId)!;
    emitSubscription(em, 'subscriptionChanged', sub, line, accounts.get(line.billingAccountId)!, 'due', now);
  }
  for (const sub of starting) {
    sub.status = 'ACTIVE';
    const line = lines.get(sub.lineId)!;
    line.planCode = sub.planCode;
    line.updatedAt = now;
    emitSubscription(em, 'subscriptionChanged', sub, line, accounts.get(line.billingAccountId)!, 'due', now);
  }
  await em.flush();
  return ending.length + starting.length;
}
