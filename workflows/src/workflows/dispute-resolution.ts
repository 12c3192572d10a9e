// Dispute resolution: the timers of one dispute, id `dispute-<disputeId>` (notes: dispute-contract).
// Invoicing owns the dispute (opening, the hold on the invoice, the credit note, the decision); this
// workflow owns its clock:
//   assessDispute (the auto-assessment rules): accepted by a rule, or closed otherwise → done.
//   Wait for an agent with the SLA as the timeout: reviewSlaHours, then escalationSlaHours per level.
//   `disputeDecidedSignal` ("look again"): read the dispute; closed → done; still open → wait for
//     what is left of the same SLA (a signal never restarts the clock).
//   SLA passed below the last level → escalateDispute(level + 1), which gets its own SLA counted
//     from the breach (or from the escalation, when the worker was late).
//   SLA passed at the last level → onFinalBreach ACCEPT: decideDispute ACCEPT in the customer's
//     favour (an agent who decided first wins: the dispute is answered as it is); WAIT: wait for an
//     agent without a deadline (looking once a policy day as well, in case a signal was lost).
// Deterministic: time from Temporal, activities by type only.
import { ActivityFailure, ApplicationFailure, condition, defineQuery, defineSignal, patched, proxyActivities, setHandler } from '@temporalio/workflow';
import type { DisputeActivities } from '../activities/disputes';
import { disputeInputProblems } from '../domain/start-inputs';
import { ErrorCode } from '../errors';
import {
  DEFAULT_DISPUTE_POLICY,
  FINAL_BREACH_NOTE,
  isDisputeClosed,
  slaMs,
  validateDisputePolicy,
  type DisputeResolutionInput,
  type DisputeResolutionStatus,
  type DisputeState,
} from '../domain/dispute-resolution';

export type { DisputePolicy, DisputeResolutionInput, DisputeResolutionStatus } from '../domain/dispute-resolution';

/**
 * No arguments: "look at the dispute again" (invoicing sends it when the dispute is decided or
 * withdrawn). Its name on the wire is the contract's, `disputeDecidedSignal`; `disputeDecided` (the
 * way the other workflows name theirs, e.g. `paymentRecorded`) is heard too, so a sender using
 * either name reaches the workflow. Likewise the query answers to `disputeStatusQuery` and `disputeStatus`.
 */
export const disputeDecidedSignal = defineSignal('disputeDecidedSignal');
export const disputeStatusQuery = defineQuery<DisputeResolutionStatus>('disputeStatusQuery');
const disputeDecidedAlias = defineSignal('disputeDecided');
const disputeStatusAlias = defineQuery<DisputeResolutionStatus>('disputeStatus');

const acts = proxyActivities<DisputeActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 minutes' },
});

/**
 * The dispute id is checked first: a run started without one (by hand, a bad start) asked invoicing to assess
 * `undefined`, a request it cannot read, and failed or retried deep in an activity. Now it fails at once,
 * INVALID_DISPUTE_INPUT, naming the field. Runs from before replay without the check.
 */
export const DISPUTE_INPUT_CHECKED = 'dispute-input-checked';

export async function disputeResolutionWorkflow(input: DisputeResolutionInput): Promise<DisputeResolutionStatus> {
  const status: DisputeResolutionStatus = { phase: 'ASSESSING', escalationLevel: 0, outcome: null };
  let poke = false;
  for (const signal of [disputeDecidedSignal, disputeDecidedAlias]) setHandler(signal, () => void (poke = true));
  for (const query of [disputeStatusQuery, disputeStatusAlias]) setHandler(query, () => status);

  const inputProblems = disputeInputProblems(input);
  if (inputProblems.length > 0 && patched(DISPUTE_INPUT_CHECKED)) {
    throw ApplicationFailure.nonRetryable(`invalid dispute resolution: ${inputProblems.join('; ')}`, ErrorCode.INVALID_DISPUTE_INPUT, { problems: inputProblems });
  }
  const policy = input.policy ?? DEFAULT_DISPUTE_POLICY;
  const problems = validateDisputePolicy(policy);
  if (problems.length > 0) throw ApplicationFailure.nonRetryable(problems.join('; '), 'INVALID_DISPUTE_POLICY');
  const disputeId = input.disputeId;

  /** Takes what the dispute says; true once it is closed. */
  const seen = (s: DisputeState): boolean => {
    status.escalationLevel = Math.max(status.escalationLevel, s.escalationLevel);
    if (!isDisputeClosed(s.status)) return false;
    status.phase = 'DONE';
    status.outcome = s.status;
    return true;
  };

  const assessed = await acts.assessDispute({ disputeId });
  if (seen(assessed)) return status;
  status.phase = 'IN_REVIEW';

  let level = status.escalationLevel;
  // A dispute already in review (this run restarts one that ended) keeps the deadline it shows.
  const due = assessed.reviewDueAt ? Date.parse(assessed.reviewDueAt) : NaN;
  let deadline = Number.isFinite(due) ? due : Date.now() + slaMs(policy, level);
  for (;;) {
    const left = deadline - Date.now();
    if (left > 0) await condition(() => poke, left);
    if (poke) {
      poke = false;
      if (seen(await acts.disputeState({ disputeId }))) return status;
      continue; // still open: wait for the rest of the same SLA
    }
    if (level < policy.escalationLevels) {
      level += 1;
      if (seen(await acts.escalateDispute({ disputeId, level }))) return status;
      deadline = Math.max(deadline, Date.now()) + slaMs(policy, level);
      continue;
    }
    break;
  }

  // Past the last level's SLA.
  if (policy.onFinalBreach === 'ACCEPT') {
    try {
      if (seen(await acts.decideDispute({ disputeId, decision: 'ACCEPT', note: FINAL_BREACH_NOTE }))) return status;
    } catch (err) {
      // Invoicing refused the decision (a decision, not an outage: those are retried), e.g. the
      // disputed line was credited apart meanwhile. Failing here left the dispute open, holding its
      // invoice, with no one waiting on it (review 10): an agent decides it instead, as with WAIT.
      if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)) throw err;
    }
  }
  // WAIT (or a decision that did not close it): wait for an agent, however long it takes, and
  // look once a policy day too, in case invoicing's signal was lost.
  for (;;) {
    await condition(() => poke, 24 * (policy.hourMs ?? 3_600_000));
    poke = false;
    if (seen(await acts.disputeState({ disputeId }))) return status;
  }
}
