import { conflict } from '@ledgerline/contracts';

/** TMF638 service states of a line. */
export const LINE_STATUSES = ['PENDING', 'ACTIVE', 'SUSPENDED', 'BARRED', 'TERMINATED'] as const;
export type LineStatus = (typeof LINE_STATUSES)[number];

/** What an operator (or an order) asks the network to do with a line. */
export const LINE_ACTIONS = ['ACTIVATE', 'SUSPEND', 'BAR', 'RESUME', 'TERMINATE', 'REPLACE_SIM'] as const;
export type LineAction = (typeof LINE_ACTIONS)[number];

/**
 * The whole lifecycle as data: `TRANSITIONS[from][action] = to`. Anything not listed is illegal.
 * PENDING → ACTIVE → SUSPENDED / BARRED → TERMINATED; a suspended line can also be barred (e.g.
 * dunning escalates), a barred one resumes to ACTIVE; a pending line can be cancelled.
 * REPLACE_SIM keeps the status: a live line (or one suspended because the phone was lost) gets a
 * new SIM; a pending line has not gone live, a barred one waits for whoever barred it.
 */
export const TRANSITIONS: Readonly<Record<LineStatus, Partial<Record<LineAction, LineStatus>>>> = {
  PENDING: { ACTIVATE: 'ACTIVE', TERMINATE: 'TERMINATED' },
  ACTIVE: { SUSPEND: 'SUSPENDED', BAR: 'BARRED', TERMINATE: 'TERMINATED', REPLACE_SIM: 'ACTIVE' },
  SUSPENDED: { RESUME: 'ACTIVE', BAR: 'BARRED', TERMINATE: 'TERMINATED', REPLACE_SIM: 'SUSPENDED' },
  BARRED: { RESUME: 'ACTIVE', TERMINATE: 'TERMINATED' },
  TERMINATED: {},
};

export function nextLineStatus(from: LineStatus, action: LineAction): LineStatus | null {
  return TRANSITIONS[from][action] ?? null;
}

/** The status after `action`, or CONFLICT `LINE_ILLEGAL_TRANSITION` naming the line. */
export function transitionLine(from: LineStatus, action: LineAction, field = 'input.lineId'): LineStatus {
  const to = nextLineStatus(from, action);
  if (!to) throw conflict('LINE_ILLEGAL_TRANSITION', `A ${from} line cannot ${action.toLowerCase().replace('_', ' ')}`, { field, from, action });
  return to;
}

/** Whether rating may serve the line (suspended and barred lines are denied service). */
export function isServiceAllowed(status: LineStatus): boolean {
  return status === 'ACTIVE';
}
