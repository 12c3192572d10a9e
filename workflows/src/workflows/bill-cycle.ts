// Bill cycle: one long-running workflow per billing account.
//
// Each run owns one billing period: it sleeps (a durable Temporal timer) until the period ends at
// 00:00 local on the bill-cycle day, closes the period, and continues as new with the next one,
// so the history stays one period long however many years the account lives. An `accountClosed`
// signal closes the current period early (at the signal's time) and ends the workflow. A signal
// that reaches a run catching up (its period already over, the account closed one or more cycles
// later) closes every whole period up to the closing time on its own, then a final stub from the
// last boundary: a closed period never spans a bill-cycle boundary (one invoice per period).
// The next period's end is invoicing's (closePeriod answers `nextPeriodEnd`, which follows a change of
// the account's bill-cycle day or zone and its bridging period), passed on as `periodEnd` to the next
// run; the input's cycle is used only when invoicing does not say (the first run, an older client).
// The period closed because the account closed is closed as `final`.
// No refusal of `closeBillingPeriod` fails the cycle (patch CLOSE_REFUSALS_NOT_FINAL): a close is tried in
// rounds until invoicing takes it, each failed round logged (an error for a refusal that will not settle
// by itself, a warning past CLOSE_ALERT_AFTER_FAILURES for one that should) and counted. The cycle ends
// cleanly when invoicing says the account is closed (no next period; reported closed at invoicing's `accountClosedAt`)
// or when the account closed while invoicing still did not know it (its own consumer bills the final period once it does).
// A signal with `closedAt` reaching a run in its close rounds closes at that instant (patch CLOSED_AT_WHILE_CLOSING).
// A run whose close rounds grow its history past CLOSE_ROUNDS_HISTORY_LIMIT continues as new between two rounds, the
// close it is trying and what it knows so far carried in `closing` (patch CLOSE_ROUNDS_CONTINUE_AS_NEW).
import { ActivityFailure, ApplicationFailure, condition, continueAsNew, defineQuery, defineSignal, log, metricMeter, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { ClosedPeriodResult } from '../ports';
import { ACCOUNT_CLOSED_SIGNAL, ACCOUNT_UNKNOWN, isValidBillCycleDay, isValidTimeZone, nextPeriodEnd, type BillingPeriod } from '../domain/bill-cycle';
import { ErrorCode } from '../errors';

export interface BillCycleInput {
  billingAccountId: string;
  /** 1–31; clamped to the month's last day in shorter months. */
  billCycleDay: number;
  /** IANA zone of the account, e.g. "Europe/Berlin". */
  timezone: string;
  /** ISO-8601 start of the current period (the account's start, then each previous end). */
  startFrom: string;
  /** ISO-8601 end of the current period as invoicing gave it (the previous run's closePeriod); absent: computed from billCycleDay/timezone. */
  periodEnd?: string;
  /** Set only by a run that continued as new in its close rounds: the next run picks the close up there. */
  closing?: ClosingState;
}

/**
 * Where a run in its close rounds stood when it continued as new (CLOSE_ROUNDS_CONTINUE_AS_NEW). `step`: the close of
 * the run's period (`period`: what follows it is decided as a run decides it), of a whole period of a catch-up to the
 * closing time (`wholePeriod`: the catch-up goes on from it), or the final one (`last`: the cycle ends with it).
 */
export interface ClosingState {
  step: 'period' | 'wholePeriod' | 'last';
  period: BillingPeriod;
  final: boolean;
  /** The closing time the run had (the `accountClosed` signal, as its handler took it), if any. */
  closedAt?: string;
  /** The signal came while the run's period was being closed (see CLOSED_AT_WHILE_CLOSING). */
  closedWhileClosing?: boolean;
  /** The round to try next, the attempts failed so far and since when (the pauses and logs go on from there). */
  round: number;
  failures: number;
  since: string;
}

export interface BillCycleResult {
  billingAccountId: string;
  closedAt: string;
  lastPeriod: BillingPeriod;
  /**
   * Absent: the `accountClosed` signal ended it, its last period closed. `INVOICING_CLOSED`: invoicing answered
   * that no period follows `lastPeriod` (it closed the account itself, e.g. from `billingaccount.closed`; the signal
   * never came): `closedAt` is when invoicing closed it (closeBillingPeriod's `accountClosedAt`), that period's end from an
   * invoicing that does not say. `ACCOUNT_UNKNOWN`: the account closed while invoicing did not
   * know it; `lastPeriod` was not closed by the cycle (invoicing bills it from the closed event if it learns of the account).
   */
  ended?: 'INVOICING_CLOSED' | 'ACCOUNT_UNKNOWN';
}

/**
 * Runs started before this change billed everything after the period's end as one stub, even
 * across bill-cycle boundaries; a run replaying such a history (stub already scheduled) must keep
 * doing so (the stub's key `…:closePeriod:${periodEnd}` is the one the first whole period now
 * uses). Once every run that predates it has ended (one bill cycle after the deploy), this can
 * become `deprecatePatch`, and a cycle later go.
 */
export const CLOSE_WHOLE_PERIODS_BEFORE_STUB = 'bill-cycle-close-whole-periods-before-final-stub';

/** What the `accountClosed` signal may carry: when subscribers closed the account (ISO-8601). */
export interface AccountClosed {
  closedAt?: string;
}

/**
 * The account closed. Sent without arguments, it closes at the signal's time (as it always did);
 * with `closedAt` (the worker's event bridge, from `billingaccount.closed`), at that instant when it
 * lies in this run's open period and is not in the future, so the final period ends where invoicing's
 * own handling of the event ends it (the same request twice: one final invoice); at the period's start
 * when it lies at or before it (the account closed when, or just before, the previous period ended: the
 * final period is empty, invoicing takes it as the account CLOSED there and bills nothing). Otherwise
 * at the signal's time. Once this run has begun closing its period (a close refused in rounds), the same
 * rule (patch CLOSED_AT_WHILE_CLOSING; before it, always the signal's time). Old histories carry no argument
 * and replay as before.
 */
export const accountClosedSignal = defineSignal(ACCOUNT_CLOSED_SIGNAL);
/** The same signal, for senders that say when the account closed (the event bridge). */
export const accountClosedAtSignal = defineSignal<[AccountClosed]>(ACCOUNT_CLOSED_SIGNAL);
export const currentPeriodQuery = defineQuery<BillingPeriod>('currentPeriod');

// Closing a period must happen; an invoicing outage only delays it.
const { closePeriod } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

/**
 * Runs before this change closed a period with the activity's unbounded retries, and a refusal taken as
 * final (BILLINGACCOUNT_NOT_FOUND: the account's created event had not reached invoicing yet) FAILED the
 * cycle for good; a close answered "no next period" went on to the next period. A run replaying such a
 * history keeps doing so. Once every run that predates it has ended or continued as new (one bill cycle
 * after the deploy), this can become `deprecatePatch`, and a cycle later go.
 */
export const CLOSE_REFUSALS_NOT_FINAL = 'bill-cycle-close-refusals-not-final';

/**
 * Runs before this change took a signal reaching them while their period's close was being tried (refused in
 * rounds: e.g. invoicing did not know the account yet) at the signal's time, whatever its `closedAt`: the catch-up
 * closed whole periods and a final stub up to the signal, and invoicing's `closed_at` ended as much after the real
 * closure as the refusals had lasted (when the workflow's final close reached it before its own consumer of
 * billingaccount.closed). Now `closedAt` is used when it lies between the period's start and now (at the start when
 * before it), and a `closedAt` within the period being closed (asked for as not final) closes that period again as
 * final, ending at `closedAt` (as invoicing's consumer does for a period billed past the closure). Either changes how
 * many closes the run makes, so a run replaying a history without this patch keeps the signal's time. Once every run
 * that predates it has ended or continued as new (one bill cycle after the deploy), this can become
 * `deprecatePatch`, and a cycle later go.
 */
export const CLOSED_AT_WHILE_CLOSING = 'bill-cycle-closed-at-while-closing';

/**
 * Runs before this change went on with their close rounds in one history, ~264 events a day, until Temporal
 * terminated it at 51,200 (~194 days of refusals). Now a run continues as new between two rounds once its history
 * passes CLOSE_ROUNDS_HISTORY_LIMIT (or the server suggests it). A run replaying a history without this patch keeps
 * its rounds in that history. Once every run that predates it has ended or continued as new (one bill cycle after the
 * deploy), this can become `deprecatePatch`, and a cycle later go.
 */
export const CLOSE_ROUNDS_CONTINUE_AS_NEW = 'bill-cycle-close-rounds-continue-as-new';
/** About a week of hourly rounds: far below Temporal's 10,240-event warning, and a continue-as-new a week is cheap. */
export const CLOSE_ROUNDS_HISTORY_LIMIT = 2_000;

/** Attempts of a close in one round (1 and 2 s apart: a clock a little behind is settled within it). */
export const CLOSE_ATTEMPTS_PER_ROUND = 3;
const closeRound = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: CLOSE_ATTEMPTS_PER_ROUND },
});
const MINUTE_MS = 60_000;
/** The pause after the n-th failed round: 1, 5, 15, 30 minutes, then an hour (3 attempts an hour, half the old policy's load). */
export function closeRoundPauseMs(round: number): number {
  return ([1, 5, 15, 30][round - 1] ?? 60) * MINUTE_MS;
}
/** From this many failed attempts (two rounds, about a minute) each failed round of a WAIT or an outage is logged as a warning. */
export const CLOSE_ALERT_AFTER_FAILURES = 6;

/** How a failed round is taken: invoicing's refusal as the client classified it (domain/bill-cycle.ts), else an outage. */
type FailedRoundKind = 'WAIT' | 'BUG' | 'OUTAGE';

export async function billCycleWorkflow(input: BillCycleInput): Promise<BillCycleResult> {
  const problems = validate(input);
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(`invalid bill cycle: ${problems.join('; ')}`, ErrorCode.INVALID_BILL_CYCLE_INPUT, { problems });
  }
  const { billingAccountId, billCycleDay, timezone } = input;
  const periodStart = new Date(Date.parse(input.startFrom)).toISOString();
  const given = input.periodEnd !== undefined ? Date.parse(input.periodEnd) : NaN;
  const periodEnd = given > Date.parse(periodStart) ? new Date(given).toISOString() : nextPeriodEnd(periodStart, billCycleDay, timezone);

  const resumed = input.closing;
  let closedAtMs: number | undefined = resumed?.closedAt !== undefined ? Date.parse(resumed.closedAt) : undefined;
  let closing = resumed !== undefined;
  /** The signal came while the period was being closed, and the closing time is `closedAt` (CLOSED_AT_WHILE_CLOSING). */
  let closedWhileClosing = resumed?.closedWhileClosing === true;
  setHandler(accountClosedSignal, (closed?: AccountClosed) => {
    if (closedAtMs !== undefined) return;
    const now = Date.now(); // workflow time: the time of the signal's workflow task
    const at = typeof closed?.closedAt === 'string' ? Date.parse(closed.closedAt) : NaN;
    if (closing) closedWhileClosing = patched(CLOSED_AT_WHILE_CLOSING);
    // Never before the period's start: an account closed at or before it (the previous period, closed and billed
    // up to this start, was its last) has an empty final period [start, start), which bills nothing.
    closedAtMs = Math.max((!closing || closedWhileClosing) && at <= now ? at : now, Date.parse(periodStart));
  });
  setHandler(currentPeriodQuery, () => ({ periodStart, periodEnd }));

  // Sleep to the period end unless the account closes first. Date.now() here is Temporal's
  // deterministic clock; a period already over (catching up from a past start) does not wait.
  const waitMs = Date.parse(periodEnd) - Date.now();
  if (!resumed && waitMs > 0) await condition(() => closedAtMs !== undefined, waitMs);
  closing = true;

  // The account's last period when it closed by (or at) this period's end.
  const closedSoFar = () => closedAtMs !== undefined;
  /** Closes `period`, the close's rounds continued in a next run (as `step`) if they outgrow this run's history. */
  const closeAs = (step: ClosingState['step'], period: BillingPeriod, final: boolean, from?: CloseRounds) =>
    close(billingAccountId, period, final, closedSoFar, {
      from,
      continueAsNew: (rounds) => {
        const closedAt = closedAtMs !== undefined ? { closedAt: new Date(closedAtMs).toISOString() } : {};
        return continueAsNew<typeof billCycleWorkflow>({ ...input, closing: { step, period, final, ...closedAt, closedWhileClosing, ...rounds } });
      },
    });
  const closedAtIso = () => new Date(closedAtMs!).toISOString();
  /** A final close ends the cycle: the account closed at `closedAt`, `last` its last period. */
  const closeLast = async (last: BillingPeriod, from?: CloseRounds): Promise<BillCycleResult> => {
    const r = await closeAs('last', last, true, from);
    return { billingAccountId, closedAt: closedAtIso(), lastPeriod: last, ...(r === UNKNOWN_AND_CLOSED ? { ended: 'ACCOUNT_UNKNOWN' as const } : {}) };
  };
  /** Closed after `last` (closed, invoicing's next period end `next`): each whole period up to the closing time on its own, then a final stub, if any. */
  const catchUp = async (last: BillingPeriod, next: string | undefined, wholePeriods: boolean): Promise<BillCycleResult> => {
    const until = closedAtMs!;
    if (wholePeriods) {
      for (let end = next ?? nextPeriodEnd(last.periodEnd, billCycleDay, timezone); Date.parse(end) <= until; end = next ?? nextPeriodEnd(end, billCycleDay, timezone)) {
        last = { periodStart: last.periodEnd, periodEnd: end };
        const r = await closeAs('wholePeriod', last, Date.parse(end) === until);
        if (r === UNKNOWN_AND_CLOSED) return { billingAccountId, closedAt: closedAtIso(), lastPeriod: last, ended: 'ACCOUNT_UNKNOWN' };
        next = r.next;
      }
    }
    if (until > Date.parse(last.periodEnd)) return closeLast({ periodStart: last.periodEnd, periodEnd: closedAtIso() });
    return { billingAccountId, closedAt: closedAtIso(), lastPeriod: last };
  };

  // A run continued as new in its close rounds picks up the close it was trying.
  if (resumed?.step === 'last') return closeLast(resumed.period, resumed);
  if (resumed?.step === 'wholePeriod') {
    const r = await closeAs('wholePeriod', resumed.period, resumed.final, resumed);
    if (r === UNKNOWN_AND_CLOSED) return { billingAccountId, closedAt: closedAtIso(), lastPeriod: resumed.period, ended: 'ACCOUNT_UNKNOWN' };
    return catchUp(resumed.period, r.next, true);
  }

  const closesEarly = resumed ? Date.parse(resumed.period.periodEnd) < Date.parse(periodEnd) : closedAtMs !== undefined && closedAtMs < Date.parse(periodEnd);
  const period: BillingPeriod = resumed?.period ?? { periodStart, periodEnd: closesEarly ? new Date(closedAtMs!).toISOString() : periodEnd };
  const first = await closeAs('period', period, resumed?.final ?? (closedAtMs !== undefined && closedAtMs <= Date.parse(periodEnd)), resumed);
  if (first === UNKNOWN_AND_CLOSED) return { billingAccountId, closedAt: closedAtIso(), lastPeriod: period, ended: 'ACCOUNT_UNKNOWN' };

  if (closedAtMs !== undefined) {
    // Signalled while the period was being closed (not as final), the account having closed within it: the
    // period closed again as final up to the closure (nothing more billed, the account CLOSED at `closedAt`).
    if (closedWhileClosing && closedAtMs <= Date.parse(periodEnd)) return closeLast({ periodStart, periodEnd: closedAtIso() });
    // Closed after the period's end (the run was catching up, or the signal came while closing the period).
    if (!closesEarly && closedAtMs > Date.parse(periodEnd)) return catchUp(period, first.next, patched(CLOSE_WHOLE_PERIODS_BEFORE_STUB));
    return { billingAccountId, closedAt: closedAtIso(), lastPeriod: period };
  }
  // Invoicing closed the account itself (its consumer of billingaccount.closed; the signal never came): no period follows.
  if (first.noNextPeriod && patched(CLOSE_REFUSALS_NOT_FINAL)) {
    log.info('bill cycle: invoicing says the account is closed; the cycle ends', { billingAccountId, periodStart: period.periodStart, periodEnd: period.periodEnd });
    return { billingAccountId, closedAt: first.accountClosedAt ?? period.periodEnd, lastPeriod: period, ended: 'INVOICING_CLOSED' };
  }
  const { periodEnd: _previous, closing: _closed, ...rest } = input;
  return continueAsNew<typeof billCycleWorkflow>({ ...rest, startFrom: periodEnd, ...(first.next ? { periodEnd: first.next } : {}) });
}

/** The account closed while invoicing did not know it: the cycle ends without closing the period. */
const UNKNOWN_AND_CLOSED = 'UNKNOWN_AND_CLOSED';

interface Closed {
  /** The end of the next period by invoicing's cycle, when it says (undefined: compute it here). */
  next: string | undefined;
  /** Invoicing answered that no period follows (`nextPeriodEnd: null`: the account is closed there). */
  noNextPeriod: boolean;
  /** When invoicing says the account closed (its `closed_at`), if it says. */
  accountClosedAt: string | undefined;
}

/** How far a close's rounds went: carried across a continue-as-new (ClosingState). */
type CloseRounds = Pick<ClosingState, 'round' | 'failures' | 'since'>;

interface RoundsAcrossRuns {
  /** The rounds of a previous run to go on from. */
  from?: CloseRounds;
  /** Continues as new, the close to go on from the given rounds (never returns). */
  continueAsNew: (next: CloseRounds) => Promise<never>;
}

/** The history is long enough that the rounds go on in a new run (see CLOSE_ROUNDS_CONTINUE_AS_NEW). */
function historyTooLong(): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= CLOSE_ROUNDS_HISTORY_LIMIT;
}

/** Closes the period (see CLOSE_REFUSALS_NOT_FINAL): what invoicing says of the next one, or UNKNOWN_AND_CLOSED. */
async function close(billingAccountId: string, period: BillingPeriod, final: boolean, accountClosed: () => boolean, runs: RoundsAcrossRuns): Promise<Closed | typeof UNKNOWN_AND_CLOSED> {
  // The workflow id spans all runs of this account; the period start makes each period's key.
  const req = { billingAccountId, ...period, idempotencyKey: `${workflowInfo().workflowId}:closePeriod:${period.periodStart}`, ...(final ? { final: true } : {}) };
  if (!patched(CLOSE_REFUSALS_NOT_FINAL)) return closedAs(period, await closePeriod(req));
  let failures = runs.from?.failures ?? 0;
  let since = runs.from?.since ?? '';
  for (let round = runs.from?.round ?? 1; ; round++) {
    try {
      const r = await closeRound.closePeriod(req);
      if (failures >= CLOSE_ALERT_AFTER_FAILURES) log.info('bill cycle: the period was closed after all', { billingAccountId, periodStart: period.periodStart, failures, since });
      return closedAs(period, r);
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      const cause = err.cause;
      const reason = cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
      const kind = failedRoundKind(err);
      failures += err.retryState === 'MAXIMUM_ATTEMPTS_REACHED' ? CLOSE_ATTEMPTS_PER_ROUND : 1;
      since ||= new Date(Date.now()).toISOString();
      const facts = { billingAccountId, periodStart: period.periodStart, periodEnd: period.periodEnd, final, kind, reason, failures, since, lastFailure: cause?.message ?? err.message };
      closeMetrics().failedRounds.add(1, { kind });
      if (reason === ACCOUNT_UNKNOWN && accountClosed()) {
        // Nothing to bill here: invoicing bills the final period from billingaccount.closed once it knows the account.
        log.warn('bill cycle: the account closed while invoicing did not know it; the cycle ends without closing the period', facts);
        return UNKNOWN_AND_CLOSED;
      }
      if (kind === 'BUG') log.error('bill cycle: invoicing refuses to close the period; retried until fixed', facts);
      else if (failures >= CLOSE_ALERT_AFTER_FAILURES) log.warn('bill cycle: the period cannot be closed yet', facts);
      // An account still unknown that closes meanwhile is asked once more at once.
      await condition(() => reason === ACCOUNT_UNKNOWN && accountClosed(), closeRoundPauseMs(round));
      // Between two rounds (no activity in flight); a signal come meanwhile is in the state carried.
      if (historyTooLong() && patched(CLOSE_ROUNDS_CONTINUE_AS_NEW)) await runs.continueAsNew({ round: round + 1, failures, since });
    }
  }
}

function closedAs(period: BillingPeriod, r: ClosedPeriodResult | undefined): Closed {
  const next = typeof r?.nextPeriodEnd === 'string' ? Date.parse(r.nextPeriodEnd) : NaN;
  const closedAt = typeof r?.accountClosedAt === 'string' ? Date.parse(r.accountClosedAt) : NaN;
  return {
    next: next > Date.parse(period.periodEnd) ? new Date(next).toISOString() : undefined,
    noNextPeriod: r?.nextPeriodEnd === null,
    accountClosedAt: Number.isNaN(closedAt) ? undefined : new Date(closedAt).toISOString(),
  };
}

function failedRoundKind(err: ActivityFailure): FailedRoundKind {
  const cause = err.cause;
  if (!(cause instanceof ApplicationFailure)) return 'OUTAGE'; // a timeout, a cancelled attempt
  const refusal = (cause.details?.[0] as { refusal?: unknown } | undefined)?.refusal;
  if (refusal === 'WAIT' || refusal === 'BUG') return refusal;
  return cause.nonRetryable ? 'BUG' : 'OUTAGE'; // a decision of a client that does not classify (a stand-in): not final either
}

/**
 * Failed rounds of closes on the worker's Prometheus endpoint (WORKER_METRICS_ADDRESS; the workflow
 * metricMeter records nothing while a history replays), by kind: an alert on BUG at all, on WAIT or
 * OUTAGE past a rate.
 */
function closeMetrics() {
  return {
    failedRounds: metricMeter.createCounter('ledgerline_bill_cycle_close_failed_rounds', 'rounds', 'Rounds of bill-cycle period close attempts that failed, by kind (WAIT, BUG, OUTAGE)'),
  };
}

function validate(input: BillCycleInput): string[] {
  const problems: string[] = [];
  if (typeof input?.billingAccountId !== 'string' || input.billingAccountId === '') problems.push('billingAccountId is required');
  if (!isValidBillCycleDay(input?.billCycleDay)) problems.push(`billCycleDay must be an integer 1–31 (got ${JSON.stringify(input?.billCycleDay)})`);
  if (!isValidTimeZone(input?.timezone)) problems.push(`timezone must be an IANA zone such as "Europe/Berlin" (got ${JSON.stringify(input?.timezone)})`);
  if (typeof input?.startFrom !== 'string' || Number.isNaN(Date.parse(input.startFrom))) {
    problems.push(`startFrom must be an ISO-8601 instant (got ${JSON.stringify(input?.startFrom)})`);
  }
  if (input?.periodEnd !== undefined && (typeof input.periodEnd !== 'string' || Number.isNaN(Date.parse(input.periodEnd)))) {
    problems.push(`periodEnd must be an ISO-8601 instant (got ${JSON.stringify(input.periodEnd)})`);
  }
  const c = input?.closing;
  if (c !== undefined && (!['period', 'wholePeriod', 'last'].includes(c?.step) || Number.isNaN(Date.parse(c.period?.periodStart)) || Number.isNaN(Date.parse(c.period?.periodEnd)) || !Number.isInteger(c.round))) {
    problems.push(`closing is not a close in rounds a previous run carried (got ${JSON.stringify(c)})`);
  }
  return problems;
}
