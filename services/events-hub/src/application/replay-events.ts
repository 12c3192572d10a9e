import { DomainError, type Caller } from '@ledgerline/contracts';
import { subjectsOf } from '../domain/query';
import { nextReplayGeneration } from '../persistence/store';
import type { HubDeps } from './deps';
import { visibleHub } from './hubs';
import { recordEvents, type StreamEvent } from './record-events';

/** Reads the stream's events on these subjects stored at or after `from`, oldest first. */
export type StreamReader = (subjects: string[], from: Date) => Promise<StreamEvent[]>;

/**
 * Sends again every event of the BILLING stream since `from` that the hub's query matches: a new
 * delivery generation, so events already delivered go out again under the same CloudEvent id
 * (receivers dedupe by it). Returns the generation and how many deliveries it scheduled.
 */
export async function replayEvents(
  deps: HubDeps,
  read: StreamReader,
  caller: Caller,
  hubId: string,
  input: unknown,
): Promise<{ generation: number; from: string; scheduled: number }> {
  const hub = await visibleHub(deps, caller, hubId);
  const raw = (input as { from?: unknown } | null)?.from;
  const from = typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(raw) ? new Date(raw) : null;
  if (!from || Number.isNaN(from.getTime()))
    throw new DomainError('HUB_INPUT_INVALID', 'from must be an ISO 8601 instant, e.g. "2026-12-01T00:00:00Z"', { field: 'from' }, 'BAD_USER_INPUT');
  if (from.getTime() > deps.clock.now().getTime()) throw new DomainError('HUB_INPUT_INVALID', 'from is in the future', { field: 'from' }, 'BAD_USER_INPUT');
  const events = await read(subjectsOf(hub.filter), from);
  const generation = await nextReplayGeneration(deps.knex, hub.id);
  const scheduled = await recordEvents(deps, events, generation, hub.id);
  deps.logger.info({ hubId: hub.id, from: from.toISOString(), generation, events: events.length, scheduled }, 'event subscription replayed');
  return { generation, from: from.toISOString(), scheduled };
}
