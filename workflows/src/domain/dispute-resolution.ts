// Dispute resolution: input, policy and status of `disputeResolutionWorkflow`. Pure; shared by the
// workflow and by whoever starts it (invoicing's DisputeStarter), so both read the same defaults.
// The contract with invoicing: notes/dispute-contract.md (invoicing owns the dispute; the workflow
// owns the SLA timers and the escalation).

/** Invoicing's `DisputeStatus`. OPEN: being assessed; IN_REVIEW: waiting for an agent; the rest are closed. */
export type DisputeStatus = 'OPEN' | 'IN_REVIEW' | 'ACCEPTED' | 'REJECTED' | 'WITHDRAWN';

/** What the workflow reads of a dispute. */
export interface DisputeState {
  status: DisputeStatus;
  escalationLevel: number;
  /**
   * When an agent's decision is due (ISO), as invoicing shows it; set once the dispute is in review.
   * A restarted run (the previous one ended without closing the dispute) keeps this deadline rather
   * than counting a whole SLA again from its own start. Absent from older activity results.
   */
  reviewDueAt?: string | null;
}

import { DEFAULT_DISPUTE_POLICY, disputePolicyProblems, disputeSlaMs, type DisputePolicy } from '@ledgerline/contracts/dispute-policy';

export { DEFAULT_DISPUTE_POLICY, type DisputePolicy };

export interface DisputeResolutionInput {
  disputeId: string;
  /** Absent: DEFAULT_DISPUTE_POLICY. */
  policy?: DisputePolicy;
}

export type DisputeResolutionPhase = 'ASSESSING' | 'IN_REVIEW' | 'DONE';

/** What `disputeStatusQuery` answers, and the workflow's result (phase DONE). */
export interface DisputeResolutionStatus {
  phase: DisputeResolutionPhase;
  escalationLevel: number;
  /** The dispute's closing status (ACCEPTED, REJECTED, WITHDRAWN) once DONE; null before. */
  outcome: string | null;
}

export const DISPUTE_RESOLUTION_WORKFLOW_TYPE = 'disputeResolutionWorkflow';


/** What the workflow decides on the final breach with onFinalBreach ACCEPT. */
export const FINAL_BREACH_NOTE = "review deadline passed: decided in the customer's favour";

/** One workflow per dispute. */
export const disputeResolutionWorkflowId = (disputeId: string): string => `dispute-${disputeId}`;

export function isDisputeClosed(status: DisputeStatus | string): boolean {
  return status === 'ACCEPTED' || status === 'REJECTED' || status === 'WITHDRAWN';
}

/** Problems with a policy, each naming the field (empty: usable). */
export const validateDisputePolicy = disputePolicyProblems;

/** The SLA in ms of a dispute at `level`: the review SLA at level 0, the escalation SLA above. */
export const slaMs = disputeSlaMs;
