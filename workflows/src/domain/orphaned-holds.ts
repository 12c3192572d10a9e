// Which dunning holds the reconciliation sweep lifts: pure rules, no I/O, time passed in.
//
// A dunning lifts its own collections hold when it ends normally: it completes only once nothing
// is owed, after lifting (`finish` in workflows/dunning.ts), so a COMPLETED run never means "leave
// the lines barred". A hold still open for one landed after that lift: a bar request given up at its
// call timeout that subscribers committed later. It is an orphan, lifted at once (no grace: the run
// is found, so the namespace is right, and it will never lift again). A run that was terminated,
// failed, timed out or was cancelled never reaches that step, and its holds would bar the lines for
// ever: orphans too. So are the holds of a run Temporal no longer knows (its history was removed
// after the namespace's retention), but only once the newest of them is older than a grace period: a
// wrong namespace or a hold an agent placed under a dunning's name must not be lifted by the first
// pass that cannot find the run. Holds of a run still going are its own to lift.

/** The holders of dunnings' holds: the dunning's workflow id, `dunning-<invoiceId>` (workflows/dunning.ts, invoicing). */
export const DUNNING_HOLDER_PREFIX = 'dunning-';

/** A run as Temporal describes it (`WorkflowExecutionStatusName`), or NOT_FOUND. */
export type DunningRunState =
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'TERMINATED'
  | 'CONTINUED_AS_NEW'
  | 'TIMED_OUT'
  | 'PAUSED'
  | 'UNSPECIFIED'
  | 'UNKNOWN'
  | 'NOT_FOUND';

/** Closed without reaching the step that lifts the holds. */
const ENDED_WITHOUT_LIFTING: ReadonlySet<DunningRunState> = new Set(['TERMINATED', 'FAILED', 'TIMED_OUT', 'CANCELLED']);

/** Closed after lifting its holds: any open now landed after the lift. */
export const landedAfterCompletion = (state: DunningRunState): boolean => state === 'COMPLETED';

export interface OrphanQuestion {
  state: DunningRunState;
  /** When the newest of the holder's holds on the account was placed. */
  newestPlacedAt: Date;
  now: Date;
  /** How long a hold whose run cannot be found is left alone. */
  missingGraceMs: number;
}

/** True when the holder's holds are orphaned and should be lifted; anything unsure keeps them. */
export function isOrphaned(q: OrphanQuestion): boolean {
  if (ENDED_WITHOUT_LIFTING.has(q.state) || landedAfterCompletion(q.state)) return true;
  if (q.state === 'NOT_FOUND') return q.now.getTime() - q.newestPlacedAt.getTime() >= q.missingGraceMs;
  return false;
}

/**
 * The idempotency key of the lift: derived from a hold of the set (hold ids are unique, and a hold
 * once lifted is never open again), so two sweeps that see the same holds send the same key and
 * subscribers lifts once; a sweep that comes after finds nothing open and lifts nothing.
 */
export function orphanLiftKey(holdId: string): string {
  return `orphaned-hold-lift:${holdId}`;
}
