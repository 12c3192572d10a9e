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
import { ApplicationFailure, condition, continueAsNew, defineQuery, defineSignal, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ACCOUNT_CLOSED_SIGNAL, isValidBillCycleDay, isValidTimeZone, nextPeriodEnd, type BillingPeriod } from '../domain/bill-cycle';
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
}

export interface BillCycleResult {
  billingAccountId: string;
  closedAt: string;
  lastPeriod: BillingPeriod;
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
 * own handling of the event ends it (the same request twice: one final invoice). Otherwise, and once
 * this run has begun closing its period, at the signal's time. Old histories carry no argument and
 * replay as before.
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

export async function billCycleWorkflow(input: BillCycleInput): Promise<BillCycleResult> {
  const problems = validate(input);
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(`invalid bill cycle: ${problems.join('; ')}`, ErrorCode.INVALID_BILL_CYCLE_INPUT, { problems });
  }
  const { billingAccountId, billCycleDay, timezone } = input;
  const periodStart = new Date(Date.parse(input.startFrom)).toISOString();
  const given = input.periodEnd !== undefined ? Date.parse(input.periodEnd) : NaN;
  const periodEnd = given > Date.parse(periodStart) ? new Date(given).toISOString() : nextPeriodEnd(periodStart, billCycleDay, timezone);

  let closedAtMs: number | undefined;
  let closing = false;
  setHandler(accountClosedSignal, (closed?: AccountClosed) => {
    if (closedAtMs !== undefined) return;
    const now = Date.now(); // workflow time: the time of the signal's workflow task
    const at = typeof closed?.closedAt === 'string' ? Date.parse(closed.closedAt) : NaN;
    closedAtMs = !closing && at > Date.parse(periodStart) && at <= now ? at : now;
  });
  setHandler(currentPeriodQuery, () => ({ periodStart, periodEnd }));

  // Sleep to the period end unless the account closes first. Date.now() here is Temporal's
  // deterministic clock; a period already over (catching up from a past start) does not wait.
  const waitMs = Date.parse(periodEnd) - Date.now();
  if (waitMs > 0) await condition(() => closedAtMs !== undefined, waitMs);
  closing = true;

  const closesEarly = closedAtMs !== undefined && closedAtMs < Date.parse(periodEnd);
  const period: BillingPeriod = { periodStart, periodEnd: closesEarly ? new Date(closedAtMs!).toISOString() : periodEnd };
  // The account's last period when it closed by (or at) this period's end.
  let next = await close(billingAccountId, period, closedAtMs !== undefined && closedAtMs <= Date.parse(periodEnd));

  if (closedAtMs !== undefined) {
    const closedAt = new Date(closedAtMs).toISOString();
    // Closed after the period's end (the run was catching up, or the signal came while closing
    // the period): each whole period up to the closing time on its own, then a final stub, if any.
    if (!closesEarly && closedAtMs > Date.parse(periodEnd)) {
      let last = period;
      if (patched(CLOSE_WHOLE_PERIODS_BEFORE_STUB)) {
        for (let end = next ?? nextPeriodEnd(last.periodEnd, billCycleDay, timezone); Date.parse(end) <= closedAtMs; end = next ?? nextPeriodEnd(end, billCycleDay, timezone)) {
          last = { periodStart: last.periodEnd, periodEnd: end };
          next = await close(billingAccountId, last, Date.parse(end) === closedAtMs);
        }
      }
      if (closedAtMs > Date.parse(last.periodEnd)) {
        last = { periodStart: last.periodEnd, periodEnd: closedAt };
        await close(billingAccountId, last, true);
      }
      return { billingAccountId, closedAt, lastPeriod: last };
    }
    return { billingAccountId, closedAt, lastPeriod: period };
  }
  const { periodEnd: _previous, ...rest } = input;
  return continueAsNew<typeof billCycleWorkflow>({ ...rest, startFrom: periodEnd, ...(next ? { periodEnd: next } : {}) });
}

/** Closes the period; the end of the next one by invoicing's cycle, when it says (undefined: compute it here). */
async function close(billingAccountId: string, period: BillingPeriod, final = false): Promise<string | undefined> {
  // The workflow id spans all runs of this account; the period start makes each period's key.
  const r = await closePeriod({ billingAccountId, ...period, idempotencyKey: `${workflowInfo().workflowId}:closePeriod:${period.periodStart}`, ...(final ? { final: true } : {}) });
  const next = typeof r?.nextPeriodEnd === 'string' ? Date.parse(r.nextPeriodEnd) : NaN;
  return next > Date.parse(period.periodEnd) ? new Date(next).toISOString() : undefined;
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
  return problems;
}
