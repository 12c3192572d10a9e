import type { Em } from '@ledgerline/platform';
import { Subscription } from '../persistence/entities';

/**
 * The lines on `planCode` at `now`, as a condition on `Line` to add to a query's filter (the
 * `lines` query's planCode filter and its totalCount): the plan a line reads as (`Line.planCode`: the stored column, or the plan of an
 * END_OF_CYCLE change due since the boundary that no sweep or request has started yet,
 * `subscriptionsAt`). Read only: the due change is not written here (reads answer from the rows as
 * they are; at a boundary a whole cycle day's changes fall due at once, and the sweep and the
 * line's next request start them under the line's lock). The started change is the line's one
 * SCHEDULED subscription (one per line, partial unique index) whose start has passed and that has
 * not ended: such a line is on its plan, not on the stored one.
 */
export function onPlanAt(em: Em, planCode: string, now: Date): Record<string, unknown> {
  const started = (where: Record<string, unknown>) =>
    em
      .createQueryBuilder(Subscription, 's')
      .select('s.lineId')
      .where({ status: 'SCHEDULED', startsAt: { $lte: now }, $or: [{ endsAt: null }, { endsAt: { $gt: now } }], ...where })
      .getKnexQuery();
  return { $or: [{ id: { $in: started({ planCode }) } }, { planCode, id: { $nin: started({}) } }] };
}
