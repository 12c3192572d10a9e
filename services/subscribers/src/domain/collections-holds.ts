import type { LineStatus } from './lifecycle';

/**
 * Collections holds: each dunning (one unpaid invoice) holds the lines of its account while it
 * lasts. A line barred for collections stays barred while any hold remains on it; the last hold
 * lifted resumes it, but only when its bar is still one a hold placed: a line the customer
 * suspended (lost phone), or one barred for fraud, is held like any other but never switched on by
 * a lift. These are the decisions, per line; application/collections-holds.ts does the I/O.
 */

/** An order of the line still open (ACKNOWLEDGED or IN_PROGRESS); `collectionsBar`: a BAR a hold placed. */
export interface OpenOrder {
  kind: string;
  collectionsBar: boolean;
}

/** Lines that can be held: not PENDING (not live yet) and not TERMINATED. */
export function isHoldable(status: LineStatus): boolean {
  return status === 'ACTIVE' || status === 'SUSPENDED' || status === 'BARRED';
}

/**
 * What placing a hold does to the line: BAR it (ACTIVE, nothing open), nothing more to do (BARRING:
 * a collections bar is on its way; NONE: already barred or suspended, for whatever reason), or
 * WAIT: another order is open, so the line's status is about to change; ask again once it is done.
 */
export function placeStep(status: LineStatus, open: OpenOrder | null): 'BAR' | 'BARRING' | 'WAIT' | 'NONE' {
  if (open) return open.collectionsBar ? 'BARRING' : 'WAIT';
  return status === 'ACTIVE' ? 'BAR' : 'NONE';
}

export interface LiftFacts {
  status: LineStatus;
  /** Holds of other holders still on the line. */
  otherHolds: number;
  open: OpenOrder | null;
  /** The line's latest completed BAR is one a hold placed. */
  latestBarIsCollections: boolean;
}

/**
 * What lifting a hold does to the line: STAYS (another hold remains), RESUME (the last hold is
 * gone and the line is BARRED by a collections bar), WAIT (a collections bar, or the resumption of
 * one, has to wait for an open order), or NONE (the line is not barred for collections: suspended
 * by the customer, barred for another reason, resumed by an agent, terminated).
 */
export function liftStep(f: LiftFacts): 'STAYS' | 'RESUME' | 'WAIT' | 'NONE' {
  if (f.otherHolds > 0) return 'STAYS';
  const barredForCollections = f.status === 'BARRED' && f.latestBarIsCollections;
  if (f.open) return f.open.collectionsBar || barredForCollections ? 'WAIT' : 'NONE';
  return barredForCollections ? 'RESUME' : 'NONE';
}
