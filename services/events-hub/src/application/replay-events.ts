import { DomainError, type Caller } from '@ledgerline/contracts';
import { subjectsOf } from '../domain/query';
import { nextReplayGeneration } from '../persistence/store';
import type { HubDeps } from './deps';
import { visibleHub } from './hubs';
import { recordEvents, type StreamEvent } from './record-events';

/** RFC 3339 date-time with "Z" or an offset (as the DateTime scalar in contracts takes). */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** A date and wall-clock time without an offset (seconds optional): ambiguous, refused with its own message. */
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

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
  // An instant needs its offset: without one, Date reads the server's local time (the DateTime scalar's rule, refused alike).
  if (typeof raw === 'string' && LOCAL_DATE_TIME.test(raw))
    throw new DomainError(
      'HUB_INPUT_INVALID',
      `from "${raw}" has no UTC offset, so it names no single instant: add "Z" for UTC or an offset such as "+01:00", e.g. "2026-12-01T00:00:00Z"`,
      { field: 'from' },
      'BAD_USER_INPUT',
    );
  const from = typeof raw === 'string' && INSTANT.test(raw) ? new Date(raw) : null;
  if (!from || Number.isNaN(from.getTime()))
    throw new DomainError('HUB_INPUT_INVALID', 'from must be an RFC 3339 instant with a UTC offset, e.g. "2026-12-01T00:00:00Z"', { field: 'from' }, 'BAD_USER_INPUT');
  if (from.getTime() > deps.clock.now().getTime()) throw new DomainError('HUB_INPUT_INVALID', 'from is in the future', { field: 'from' }, 'BAD_USER_INPUT');
  const events = await read(subjectsOf(hub.filter), from);
  const generation = await nextReplayGeneration(deps.knex, hub.id);
  const scheduled = await recordEvents(deps, events, generation, hub.id);
  deps.logger.info({ hubId: hub.id, from: from.toISOString(), generation, events: events.length, scheduled }, 'event subscription replayed');
  return { generation, from: from.toISOString(), scheduled };
}
