import { DomainError, type Caller } from '@ledgerline/contracts';
import { subjectsOf } from '../domain/query';
import { audienceOfSubject } from '../domain/visibility';
import { nextReplayGeneration } from '../persistence/store';
import type { HubDeps } from './deps';
import { visibleHub } from './hubs';
import { recordEvents, type StreamEvent } from './record-events';

/** RFC 3339 date-time with "Z" or an offset (as the DateTime scalar in contracts takes). */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** A date and wall-clock time without an offset (seconds optional): ambiguous, refused with its own message. */
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/** Reads the stream's events on these subjects stored at or after `from`, oldest first (each with its `seq`). */
export type StreamReader = (subjects: string[], from: Date) => Promise<StreamEvent[]>;

/** Whether the hub's billingaccount durable has read the stream up to a sequence (waiting a little: events/event-consumer.ts). */
export type AccountsReadUpTo = (seq: number) => Promise<boolean>;

/**
 * Sends again every event of the BILLING stream since `from` that the hub's query matches: a new
 * delivery generation, so events already delivered go out again under the same CloudEvent id
 * (receivers dedupe by it). Returns the generation and how many deliveries it scheduled.
 *
 * A partner's hub: the account events read are decided only once the hub's billingaccount durable has read the stream
 * up to the last of them (`accountsRead`), as the live intake waits: a replay reads up to what was stored when it
 * began, so an account's move to another partner published just before an event may not be placed yet, and the
 * event went to the partner the account had left. Still behind: HUB_REPLAY_ACCOUNTS_BEHIND (ask again), nothing sent.
 */
export async function replayEvents(
  deps: HubDeps,
  read: StreamReader,
  caller: Caller,
  hubId: string,
  input: unknown,
  accountsRead?: AccountsReadUpTo,
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
  const accountSeqs = events.flatMap((e) => (audienceOfSubject(e.subject) === 'ACCOUNT' && e.seq !== undefined ? [e.seq] : []));
  if (hub.partnerId !== null && accountSeqs.length && accountsRead && !(await accountsRead(Math.max(...accountSeqs))))
    throw new DomainError(
      'HUB_REPLAY_ACCOUNTS_BEHIND',
      'The hub has not read the latest billing account changes yet, so it cannot tell which of these events are yours; nothing was replayed: try again in a minute',
      { retryable: true },
      'INTERNAL',
    );
  const generation = await nextReplayGeneration(deps.knex, hub.id);
  const scheduled = await recordEvents(deps, events, generation, hub.id);
  deps.logger.info({ hubId: hub.id, from: from.toISOString(), generation, events: events.length, scheduled }, 'event subscription replayed');
  return { generation, from: from.toISOString(), scheduled };
}
