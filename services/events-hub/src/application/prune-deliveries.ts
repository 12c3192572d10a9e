import type { Logger } from '@ledgerline/platform';
import { cancelDeliveriesOfDeletedHubs, deleteFinishedDeliveries } from '../persistence/store';
import type { HubConfig } from '../config';
import type { HubDeps } from './deps';

const HOUR_MS = 3_600_000;

/** Rows deleted per statement, and statements per pass (a backlog is worked off over several passes). */
export const PRUNE_BATCH = 1_000;
export const PRUNE_MAX_STATEMENTS = 20;

/**
 * Retention: cancels the PENDING deliveries of deleted hubs (stragglers of a delete racing an event),
 * then deletes DELIVERED deliveries that finished more than `deliveredHours` before `now`, CANCELLED ones
 * (their hub deleted) as long after the cancellation, and DEAD ones more than `deadHours` before (0: that status is kept), in statements of at most `batch` rows, at most
 * `maxStatements` of them. `more`: a statement came back full, so older rows may be left for the next pass.
 */
export async function pruneDeliveries(
  deps: Pick<HubDeps, 'knex'> & { logger?: Logger },
  now: Date,
  retention: HubConfig['retention'],
  options: { batch: number; maxStatements: number } = { batch: PRUNE_BATCH, maxStatements: PRUNE_MAX_STATEMENTS },
): Promise<{ deleted: number; more: boolean }> {
  const work: ['DELIVERED' | 'DEAD' | 'CANCELLED', number][] = [
    ['DELIVERED', retention.deliveredHours],
    ['CANCELLED', retention.deliveredHours],
    ['DEAD', retention.deadHours],
  ];
  let deleted = 0;
  let statements = 0;
  let more = false;
  // First, deliveries a deleted hub still got (an event recorded as the delete committed): cancelled, so they age out below.
  const cancelled = await cancelDeliveriesOfDeletedHubs(deps.knex, now, options.batch);
  if (cancelled) deps.logger?.info({ cancelled }, 'pending deliveries of deleted hubs cancelled');
  more = cancelled === options.batch;
  for (const [status, hours] of work) {
    if (hours <= 0) continue;
    const before = new Date(now.getTime() - hours * HOUR_MS);
    for (;;) {
      if (statements >= options.maxStatements) {
        more = true;
        break;
      }
      statements++;
      const n = await deleteFinishedDeliveries(deps.knex, status, before, options.batch);
      deleted += n;
      if (n < options.batch) break;
    }
  }
  if (deleted) deps.logger?.info({ deleted, more }, 'old webhook deliveries pruned');
  return { deleted, more };
}
