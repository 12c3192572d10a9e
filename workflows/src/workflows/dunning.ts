// Dunning: collections for one overdue invoice, firm but fair.
//
// From the due date it walks the policy's steps in time order: reminders, a late fee, suspension
// of the account's lines (through subscribers), keeping the policy's spacing between them when it
// starts late (a step already past fires now and moves the later ones back as far). Before each step it looks at the invoice again:
// paid → stop (restoring the lines if they were suspended); under a dispute that covers what is
// owed → hold (no step fires, the clock of the policy is not advanced) until the dispute ends.
// After suspension it waits for the payment and restores the lines. A `paymentRecorded` or
// `disputeChanged` signal makes it look again at once; otherwise it looks once a day.
//
// Suspension is a collections hold in subscribers, one per dunning (holder = this workflow's id)
// on each live line of the account: the ACTIVE lines are barred, the others held as they are. The
// restoration lifts this dunning's hold; subscribers resumes a line only when no other dunning
// still holds it (two unpaid invoices: paying one leaves the lines barred for the other) and only
// a line barred for collections (one the customer suspended, or barred for fraud, stays as it is).
// A line with an order still open is barred/resumed on a retry of the activity.
//
// A dispute that comes after the suspension (patch `dunning-dispute-lifts-suspension`): while it
// covers what is owed, this dunning lifts its hold (the service comes back unless another unpaid
// invoice holds the lines) and waits. Resolved in the customer's favour (nothing owed): the
// dunning ends. Resolved against them, the invoice still unpaid: the policy goes on where its
// clock stood, past the suspension day, so the hold is placed again at once (`suspend-<n>`).
// A partial dispute (less than what is owed) holds nothing: the undisputed rest is still due.
// Versioning: activity arguments and results are not part of the history's commands, so the
// switch from bars to holds needed no patch (runs of older workers are read by their keys, and
// subscribers' migration turned their bars into holds); the dispute branch is patched at the point
// it decides, so a run already waiting after its suspension takes it from its next look.
//
// A step stuck in its retries (the network keeps refusing the bar, the reminder channel keeps
// failing) still sees a payment (patch `dunning-step-races-payment`): the step runs in a
// cancellable scope, a signal during it makes the workflow look at the invoice, and paid, the step
// is cancelled and the dunning ends (lifting the hold a cancelled bar attempt may have placed).
// Runs started before the patch (no marker at their start) keep waiting for the step.
//
// A bar cancelled by the payment may still be on its way to subscribers (an attempt running when the
// step is cancelled): lifting the hold at once found nothing yet, the hold landed after it, and the
// paid customer's lines stayed barred by a dunning that had COMPLETED (until the next sweep of the worker,
// which now lifts such holds; a bar request given up at its call timeout can still land late). With patch `dunning-waits-for-cancelled-bar` the bar is cancelled waiting for its
// running attempt to end (none runs after), so the lift comes after whatever it placed. And a payment
// the step's watch sees only once the step has ended is not dropped (patch
// `dunning-keeps-late-payment-look`): the next wait looks again at once instead of a day later.
//
// A late fee step cancelled by the payment may still have charged the fee (an attempt's answer lost,
// or an attempt that completed as the step was cancelled): the fee would stay owed by a customer
// who paid what was asked (patch `dunning-waives-cancelled-late-fee`). The fee's activity is then
// cancelled waiting for its attempt to end (no attempt of it runs after), and the workflow asks
// invoicing to waive the fee by its key (waiveOneOffCharge: WAIVED_IN_ADVANCE not there yet, so a late
// request for it is recorded waived; WAIVED unbilled; CREDITED by a credit note if billed; asked again
// it answers the same, so it is waived once). `lateFeeWaiver` in
// the status says which. A fee step begun before the patch (no marker when it began) is left as it was.
//
// The bar is retried for as long as the network refuses it (each retry tries it again), but no
// longer silently (patch `dunning-step-retries-visible`): the suspension runs in rounds of
// SUSPEND_ATTEMPTS_PER_ROUND attempts, 10 minutes apart growing to an hour; each failed round updates `stuck` in the
// `dunningStatus` query (step, failures, since, last failure) and, from STUCK_ALERT_AFTER_FAILURES
// failures on, logs a warning `dunning: the suspension keeps failing` (the worker's JSON log, what an
// alert can match). A search attribute would need registering in every namespace first and the
// worker exports no metrics yet; the query and the log need neither.
//
// The customer is told of every step that concerns them, through invoicing (recordDunningNotice →
// customerBillDunningNotice → subscribers' messages on their channels), once per step: the key is
// the step's (`<workflowId>:reminder-<n>`, `:notice-suspend`, `:notice-suspend-<n>`, `:notice-restore`),
// invoicing derives the event's id from it and subscribers its messages' ids from the event, so an
// activity retried or a history replayed tells nothing twice. Each reminder says what comes next if it
// stays unpaid and when (the late fee, the bar, at the policy's times as they stand then); the last
// reminder before the bar is the FINAL_NOTICE. Invoicing reads the invoice itself (number, what it
// still owes, due date) and sends no reminder or bar notice for an invoice that owes nothing by then
// (paid after the workflow's look). The bar and the lines back on after the payment are told with
// patch `dunning-notifies-bar-and-restore`, asked where each is sent (a run already past them replays
// without). A notice refused for good is logged (`dunning: the customer could not be told`) and the
// dunning goes on: a failed letter never keeps the lines barred or unbarred.
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  isCancellation,
  log,
  metricMeter,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { InvoiceStatus, InvoicingActivities } from '../activities/invoicing';
import { dunningInputProblems } from '../domain/start-inputs';
import { ErrorCode } from '../errors';

export interface DunningPolicy {
  /** Days after the due date for each reminder, e.g. [1, 7]. */
  reminderDays: number[];
  /** Late fee, as a decimal string in the invoice's currency, charged once after `afterDays`. */
  lateFee?: { afterDays: number; amount: string } | null;
  /** Days after the due date to suspend the lines. */
  suspendAfterDays: number;
  /** Length of one policy day in ms (default 86,400,000); end-to-end tests use short days. */
  dayMs?: number;
}

export interface DunningInput {
  invoiceId: string;
  billingAccountId: string;
  /** ISO instant. */
  dueDate: string;
  policy: DunningPolicy;
}

export type DunningPhase = 'WAITING' | 'HELD' | 'SUSPENDED' | 'PAID';

export interface DunningStatus {
  phase: DunningPhase;
  /** Steps in the order they happened; `DISPUTE_RESTORE` when a dispute lifted the hold, `SUSPEND` again when it came back. */
  stepsDone: string[];
  /** Whether this dunning holds the account's lines now. */
  suspended: boolean;
  /** The lines under this dunning's hold (absent for a suspension made by an older worker). */
  barredLineIds?: string[];
  /**
   * A late fee step cancelled by the payment: what invoicing did with a fee that had reached it
   * (WAIVED_IN_ADVANCE: it had not, and will be recorded waived if it still comes; NOT_FOUND from
   * invoicing before that answer existed; WAIVED; CREDITED), or FAILED (invoicing refused: waive it by hand, logged).
   */
  lateFeeWaiver?: 'NOT_FOUND' | 'WAIVED_IN_ADVANCE' | 'WAIVED' | 'CREDITED' | 'FAILED';
  /** A step that keeps failing (the network refusing the bar): null or absent when none is. */
  stuck?: StuckStep | null;
}

export interface StuckStep {
  step: 'SUSPEND';
  /** Failed attempts so far (rounds of SUSPEND_ATTEMPTS_PER_ROUND). */
  failures: number;
  /** ISO instant of the first failed round. */
  since: string;
  /** The last attempt's failure (e.g. ORDER_ALREADY_OPEN: a line the network refused to bar). */
  lastFailure: string;
}

export const dunningWorkflowId = (invoiceId: string): string => `dunning-${invoiceId}`;
export const paymentRecordedSignal = defineSignal('paymentRecorded');
export const disputeChangedSignal = defineSignal('disputeChanged');
export const dunningStatusQuery = defineQuery<DunningStatus>('dunningStatus');

const acts = proxyActivities<InvoicingActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});
/**
 * Cancelled, these wait for their running attempt to end, so none lands after what follows the cancel: the late
 * fee with the waiver patch (the waiver), the bar without the rounds with the cancelled-bar patch (the lift).
 */
const feeActs = proxyActivities<InvoicingActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});
/**
 * Attempts of the suspension in one round (with the visibility patch), 1 and 2 s apart. Rounds are
 * 10, 20, 40, then 60 minutes apart (roundPauseMs): 3 attempts an hour while stuck, half what the
 * old unbounded policy made, and a bar the network takes again is placed within the hour.
 */
export const SUSPEND_ATTEMPTS_PER_ROUND = 3;
/** Failed attempts from which each failed round logs a warning (two rounds: about 10 minutes). */
export const STUCK_ALERT_AFTER_FAILURES = 6;
const roundPauseMs = (failedRounds: number): number => Math.min(10 * 60_000 * 2 ** Math.min(failedRounds - 1, 3), 60 * 60_000);
const suspendActs = proxyActivities<InvoicingActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: SUSPEND_ATTEMPTS_PER_ROUND },
});
/** The bar with the cancelled-bar patch: cancelled, it waits for its running attempt to end (see the top). */
const suspendActsWaiting = proxyActivities<InvoicingActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: SUSPEND_ATTEMPTS_PER_ROUND },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

const DEFAULT_DAY = 86_400_000;
/** A dispute after the suspension lifts this dunning's hold while it lasts (see the top). */
const DISPUTE_LIFTS_SUSPENSION = 'dunning-dispute-lifts-suspension';
/** A payment signalled during a step that keeps retrying cancels the step (see the top). */
const STEP_RACES_PAYMENT = 'dunning-step-races-payment';
/** A late fee step cancelled by the payment waives a fee that reached invoicing anyway (see the top). */
const WAIVES_CANCELLED_LATE_FEE = 'dunning-waives-cancelled-late-fee';
/** The suspension retries in rounds and shows it (query, log; see the top). */
const STEP_RETRIES_VISIBLE = 'dunning-step-retries-visible';
/** The customer is told of the bar and of the lines back on after the payment (see the top). */
const NOTIFIES_BAR_AND_RESTORE = 'dunning-notifies-bar-and-restore';
/** A bar cancelled by the payment is waited for before the hold is lifted (see the top). */
const WAITS_FOR_CANCELLED_BAR = 'dunning-waits-for-cancelled-bar';
/** A payment the step's watch saw after the step ended is looked at again at once (see the top). */
const KEEPS_LATE_PAYMENT_LOOK = 'dunning-keeps-late-payment-look';

/** Exact comparison of two non-negative decimal strings, without floating point. */
export function decimalGreaterThanZero(value: string): boolean {
  return /[1-9]/.test(value.replace(/^-.*$/, '0'));
}
function compareDecimal(a: string, b: string): number {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  const len = Math.max(af.length, bf.length);
  const x = BigInt((ai ?? '0') + af.padEnd(len, '0'));
  const y = BigInt((bi ?? '0') + bf.padEnd(len, '0'));
  return x === y ? 0 : x > y ? 1 : -1;
}

/** A dispute holds dunning while it covers everything still owed. */
export function isHeld(s: InvoiceStatus): boolean {
  return s.state === 'ON_HOLD' && compareDecimal(s.amountDisputed, s.amountDue) >= 0;
}

interface Step {
  at: number;
  kind: 'REMINDER' | 'LATE_FEE' | 'SUSPEND';
  level: number;
}

/**
 * The input is checked first: a dunning started without a policy or with a due date that is not an
 * instant threw in the workflow (its task retried for ever, the run never ending), a late fee that is
 * not a decimal failed at the fee step days later. Now INVALID_DUNNING_INPUT at once, naming the
 * fields. Runs from before replay without the check.
 */
export const DUNNING_INPUT_CHECKED = 'dunning-input-checked';

export async function dunningWorkflow(input: DunningInput): Promise<DunningStatus> {
  const problems = dunningInputProblems(input);
  if (problems.length > 0 && patched(DUNNING_INPUT_CHECKED)) {
    throw ApplicationFailure.nonRetryable(`invalid dunning: ${problems.join('; ')}`, ErrorCode.INVALID_DUNNING_INPUT, { problems });
  }
  const status: DunningStatus = { phase: 'WAITING', stepsDone: [], suspended: false };
  // Runs started before this patch keep firing past steps at once (their histories say so).
  const keepSpacing = patched('dunning-keeps-step-spacing');
  const raceSteps = patched(STEP_RACES_PAYMENT);
  let poke = false;
  setHandler(paymentRecordedSignal, () => void (poke = true));
  setHandler(disputeChangedSignal, () => void (poke = true));
  setHandler(dunningStatusQuery, () => status);
  const key = (step: string) => `${workflowInfo().workflowId}:${step}`;
  // Asked once, when the first suspension begins: a run whose suspension an older worker began keeps the old retries.
  let visibleRetries: boolean | undefined;
  const suspendNow = (idempotencyKey: string, waitsWhenCancelled: boolean) => {
    visibleRetries ??= patched(STEP_RETRIES_VISIBLE);
    return visibleRetries
      ? suspendInRounds(status, input, idempotencyKey, waitsWhenCancelled ? suspendActsWaiting : suspendActs)
      : suspend(status, input, idempotencyKey, waitsWhenCancelled ? feeActs : acts);
  };
  /** Asked where each bar begins, so a bar an older worker began replays as it ran. */
  const barWaitsWhenCancelled = () => raceSteps && patched(WAITS_FOR_CANCELLED_BAR);

  const DAY = input.policy.dayMs && input.policy.dayMs > 0 ? input.policy.dayMs : DEFAULT_DAY;
  const due = Date.parse(input.dueDate);
  const steps: Step[] = [
    ...input.policy.reminderDays.map((d, i) => ({ at: due + d * DAY, kind: 'REMINDER' as const, level: i + 1 })),
    ...(input.policy.lateFee ? [{ at: due + input.policy.lateFee.afterDays * DAY, kind: 'LATE_FEE' as const, level: 0 }] : []),
    { at: due + input.policy.suspendAfterDays * DAY, kind: 'SUSPEND' as const, level: 0 },
  ].sort((a, b) => a.at - b.at);

  /** Sleeps until `at` or a signal, whichever comes first. */
  const waitUntil = async (at: number) => {
    const ms = at - Date.now();
    if (ms > 0) await condition(() => poke, ms);
    poke = false;
  };

  /**
   * Runs one step; with the patch, a signal while it runs (retries included) looks at the invoice,
   * and paid, cancels the step: answers false (the caller ends the dunning), else true.
   */
  const stepUnlessPaid = async (run: () => Promise<unknown>, waitsForCancel = false): Promise<boolean> => {
    if (!raceSteps) {
      await run();
      return true;
    }
    const scope = new CancellationScope();
    let stepDone = false;
    let paid = false;
    const watch = (async () => {
      while (!stepDone) {
        await condition(() => poke || stepDone);
        if (stepDone) return;
        poke = false;
        const s = await acts.invoiceStatus({ invoiceId: input.invoiceId });
        if (decimalGreaterThanZero(s.amountDue)) continue;
        if (!stepDone) {
          paid = true;
          scope.cancel();
          return;
        }
        // The step ended while this look was on its way: the next wait acts on the payment it saw.
        if (patched(KEEPS_LATE_PAYMENT_LOOK)) poke = true;
      }
    })();
    try {
      await scope.run(run);
    } catch (err) {
      // An activity cancelled waiting for its attempt (waitsForCancel) may end failed rather than cancelled.
      if (!(paid && (isCancellation(err) || (waitsForCancel && err instanceof ActivityFailure)))) throw err;
    } finally {
      stepDone = true;
    }
    await watch;
    return !paid;
  };

  let heldFor = 0;
  for (let i = 0; i < steps.length; ) {
    const step = steps[i]!;
    await waitUntil(step.at + heldFor);
    if (Date.now() < step.at + heldFor) {
      // Woken by a signal before the step: only check whether it was paid.
      const s = await acts.invoiceStatus({ invoiceId: input.invoiceId });
      if (!decimalGreaterThanZero(s.amountDue)) return finish(status, input, key);
      continue;
    }
    const s = await acts.invoiceStatus({ invoiceId: input.invoiceId });
    if (!decimalGreaterThanZero(s.amountDue)) return finish(status, input, key);
    if (isHeld(s)) {
      // Held: push every remaining step back by the time the dispute lasts.
      status.phase = 'HELD';
      const heldSince = Date.now();
      await waitUntil(Date.now() + DAY);
      heldFor += Date.now() - heldSince;
      continue;
    }
    status.phase = 'WAITING';
    // Asked when the fee step begins, so a step an older worker began replays as it ran.
    const waivesFee = step.kind === 'LATE_FEE' && raceSteps && patched(WAIVES_CANCELLED_LATE_FEE);
    const feeKey = `dunning-${input.invoiceId}:late-fee`;
    const waitsForBar = step.kind === 'SUSPEND' && barWaitsWhenCancelled();
    const goOn = await stepUnlessPaid(async () => {
      if (step.kind === 'REMINDER') {
        // What comes next if it stays unpaid, as the policy has it now (a step fired late moves the rest back as far, below).
        const shift = keepSpacing ? Math.max(heldFor, Date.now() - step.at) : heldFor;
        const later = steps.slice(i + 1);
        const fee = later.find((l) => l.kind === 'LATE_FEE');
        const bar = later.find((l) => l.kind === 'SUSPEND');
        const final = bar !== undefined && !later.slice(0, later.indexOf(bar)).some((l) => l.kind === 'REMINDER');
        await tellCustomer(input, 'reminder', () =>
          acts.sendReminder({
            invoiceId: input.invoiceId,
            billingAccountId: input.billingAccountId,
            level: step.level,
            idempotencyKey: key(`reminder-${step.level}`),
            notice: final ? 'FINAL_NOTICE' : 'REMINDER',
            lateFee: fee ? { amount: input.policy.lateFee!.amount, at: new Date(fee.at + shift).toISOString() } : null,
            barAt: bar ? new Date(bar.at + shift).toISOString() : null,
          }),
        );
      }
      if (step.kind === 'LATE_FEE') {
        // Once per invoice, not per dunning: a refunded invoice dunned again (`dunning-<invoiceId>-<n>`)
        // replays its steps from the due date, and its late fee was charged by the first run. The key
        // is the first run's (`dunning-<invoiceId>:late-fee`), so runs started before this read the same.
        await (waivesFee ? feeActs : acts).addLateFee({ billingAccountId: input.billingAccountId, invoiceId: input.invoiceId, amount: input.policy.lateFee!.amount, currency: s.currency, idempotencyKey: feeKey });
      }
      if (step.kind === 'SUSPEND') await suspendNow(key('suspend'), waitsForBar);
    }, waivesFee || waitsForBar);
    if (!goOn) {
      // Paid during the step. A cancelled bar may have placed the hold before its answer was lost.
      if (step.kind === 'SUSPEND') status.suspended = true;
      // A cancelled fee may have been charged all the same: waived (see the top).
      if (waivesFee) await waiveLateFee(status, input, feeKey);
      return finish(status, input, key);
    }
    if (step.kind !== 'SUSPEND') status.stepsDone.push(step.kind === 'REMINDER' ? `REMINDER_${step.level}` : step.kind);
    if (step.kind === 'SUSPEND' && patched(NOTIFIES_BAR_AND_RESTORE)) await tellBarred(input, key('notice-suspend'));
    // A step that fired late (the workflow started, or its worker came back, days after it was
    // due) pushes the rest back as far: the customer still gets the policy's notice between steps
    // instead of every reminder, the fee and the suspension in the same minute.
    if (keepSpacing) heldFor = Math.max(heldFor, Date.now() - step.at);
    i += 1;
  }
  // Suspended: wait for the payment (a signal, or a daily look), then restore. A dispute that
  // covers what is owed lifts this dunning's hold while it lasts; lost, the hold comes back.
  let holds = 1;
  for (;;) {
    await waitUntil(Date.now() + DAY);
    const s = await acts.invoiceStatus({ invoiceId: input.invoiceId });
    if (!decimalGreaterThanZero(s.amountDue)) return finish(status, input, key);
    const disputed = isHeld(s);
    if (disputed !== status.suspended) continue; // as it should be: held while owed, lifted while disputed
    if (!patched(DISPUTE_LIFTS_SUSPENSION)) continue; // replaying a run of an older worker, which did nothing here
    if (disputed) {
      await acts.restoreAccountLines({ billingAccountId: input.billingAccountId, reason: `dunning: invoice ${input.invoiceId} disputed`, idempotencyKey: key(`dispute-restore-${holds}`), holdId: workflowInfo().workflowId });
      status.suspended = false;
      status.barredLineIds = [];
      status.phase = 'HELD';
      status.stepsDone.push('DISPUTE_RESTORE');
    } else {
      holds += 1;
      const n = holds;
      const waitsForBar = barWaitsWhenCancelled();
      if (!(await stepUnlessPaid(() => suspendNow(key(`suspend-${n}`), waitsForBar), waitsForBar))) {
        status.suspended = true; // a cancelled attempt may have placed the hold
        return finish(status, input, key);
      }
      if (patched(NOTIFIES_BAR_AND_RESTORE)) await tellBarred(input, key(`notice-suspend-${n}`));
    }
  }
}

/** Holds the account's lines for this dunning (subscribers bars the ACTIVE ones). */
async function suspend(status: DunningStatus, input: DunningInput, idempotencyKey: string, via: typeof acts = acts): Promise<void> {
  const held = await via.suspendAccountLines({ billingAccountId: input.billingAccountId, reason: `dunning: invoice ${input.invoiceId} unpaid`, idempotencyKey, holdId: workflowInfo().workflowId });
  if (held.lineIds) status.barredLineIds = held.lineIds;
  status.suspended = true;
  status.phase = 'SUSPENDED';
  status.stepsDone.push('SUSPEND');
}

/**
 * The suspension with the visibility patch: rounds of SUSPEND_ATTEMPTS_PER_ROUND attempts, 10 minutes
 * apart growing to an hour (roundPauseMs), until it succeeds (same key: subscribers tries a refused bar again). Each failed round is
 * shown in `status.stuck` and, past STUCK_ALERT_AFTER_FAILURES, logged. A decision (a non-retryable
 * failure) ends it as before.
 */
async function suspendInRounds(status: DunningStatus, input: DunningInput, idempotencyKey: string, via: typeof acts = suspendActs): Promise<void> {
  for (;;) {
    try {
      await suspend(status, input, idempotencyKey, via);
      if (status.stuck && status.stuck.failures >= STUCK_ALERT_AFTER_FAILURES) suspensionMetrics().unstuck.add(1);
      status.stuck = null;
      return;
    } catch (err) {
      if (!(err instanceof ActivityFailure && err.retryState === 'MAXIMUM_ATTEMPTS_REACHED')) throw err;
      const before = status.stuck;
      const stuck: StuckStep = {
        step: 'SUSPEND',
        failures: (before?.failures ?? 0) + SUSPEND_ATTEMPTS_PER_ROUND,
        since: before?.since ?? new Date(Date.now()).toISOString(),
        lastFailure: err.cause?.message ?? err.message,
      };
      status.stuck = stuck;
      suspensionMetrics().failedRounds.add(1);
      if (stuck.failures >= STUCK_ALERT_AFTER_FAILURES && (before?.failures ?? 0) < STUCK_ALERT_AFTER_FAILURES) suspensionMetrics().stuck.add(1);
      if (stuck.failures >= STUCK_ALERT_AFTER_FAILURES) {
        log.warn('dunning: the suspension keeps failing', { invoiceId: input.invoiceId, billingAccountId: input.billingAccountId, failures: stuck.failures, since: stuck.since, lastFailure: stuck.lastFailure });
      }
      await sleep(roundPauseMs(stuck.failures / SUSPEND_ATTEMPTS_PER_ROUND));
    }
  }
}

/**
 * The suspension's counters on the worker's Prometheus endpoint (WORKER_METRICS_ADDRESS; Temporal's
 * workflow metricMeter records nothing while a history replays, so each counts once): failed rounds,
 * and dunnings whose suspension became stuck (past STUCK_ALERT_AFTER_FAILURES) or got through after
 * that. stuck − unstuck is not how many are stuck now (a worker restart starts both at 0, a dunning
 * ended by hand while stuck is never unstuck): the alert counts failed rounds in a window instead.
 */
function suspensionMetrics() {
  return {
    failedRounds: metricMeter.createCounter('ledgerline_dunning_suspension_failed_rounds', 'rounds', 'Rounds of suspension attempts the network refused (each round is SUSPEND_ATTEMPTS_PER_ROUND attempts)'),
    stuck: metricMeter.createCounter('ledgerline_dunning_suspensions_stuck', 'dunnings', 'Dunnings whose suspension has kept failing for STUCK_ALERT_AFTER_FAILURES attempts (see dunningStatus.stuck)'),
    unstuck: metricMeter.createCounter('ledgerline_dunning_suspensions_unstuck', 'dunnings', 'Stuck suspensions that went through in the end'),
  };
}

/** Waives the late fee a cancelled fee step may have charged (invoicing answers WAIVED_IN_ADVANCE when it had not). */
async function waiveLateFee(status: DunningStatus, input: DunningInput, feeKey: string): Promise<void> {
  try {
    const r = await acts.waiveLateFee({ invoiceId: input.invoiceId, idempotencyKey: feeKey, reason: `invoice ${input.invoiceId} was paid before the late fee took effect` });
    status.lateFeeWaiver = r.outcome;
    // Only a fee that was charged counts as a step done (one waived in advance was never charged).
    if (r.outcome === 'WAIVED' || r.outcome === 'CREDITED') status.stepsDone.push('LATE_FEE_WAIVED');
  } catch (err) {
    if (isCancellation(err)) throw err;
    // A refusal (not an outage: those are retried): the dunning still ends, and someone waives it by hand.
    status.lateFeeWaiver = 'FAILED';
    log.error('dunning: the late fee charged after the payment could not be waived; waive it by hand (waiveOneOffCharge)', { invoiceId: input.invoiceId, feeKey, failure: err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err) });
  }
}

/**
 * Tells the customer through invoicing (see the top). A notice refused for good (not an outage: those
 * are retried) does not stop the dunning: it is logged for someone to tell the customer by hand.
 */
async function tellCustomer(input: DunningInput, what: string, send: () => Promise<void>): Promise<void> {
  try {
    await send();
  } catch (err) {
    if (isCancellation(err)) throw err;
    log.error('dunning: the customer could not be told', { what, invoiceId: input.invoiceId, billingAccountId: input.billingAccountId, failure: err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err) });
  }
}

/** The lines were barred for this invoice: the customer hears it (invoicing sends nothing if it was paid meanwhile). */
function tellBarred(input: DunningInput, idempotencyKey: string): Promise<void> {
  return tellCustomer(input, 'bar', () => acts.sendDunningNotice({ invoiceId: input.invoiceId, billingAccountId: input.billingAccountId, notice: 'BARRED', idempotencyKey }));
}

async function finish(status: DunningStatus, input: DunningInput, key: (s: string) => string): Promise<DunningStatus> {
  if (status.suspended) {
    // Lifts this dunning's hold (see the top): lines another dunning holds stay barred.
    const restored = await acts.restoreAccountLines({ billingAccountId: input.billingAccountId, reason: `dunning: invoice ${input.invoiceId} paid`, idempotencyKey: key('restore'), holdId: workflowInfo().workflowId, suspendKey: key('suspend') });
    status.suspended = false;
    status.stepsDone.push('RESTORE');
    if (patched(NOTIFIES_BAR_AND_RESTORE)) {
      await tellCustomer(input, 'restore', () => acts.sendDunningNotice({ invoiceId: input.invoiceId, billingAccountId: input.billingAccountId, notice: 'RESTORED', idempotencyKey: key('notice-restore'), linesResumed: restored.lines }));
    }
  }
  status.phase = 'PAID';
  return status;
}
