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
}

export interface DisputePolicy {
  /** Time an agent has to decide once the dispute is in review. */
  reviewSlaHours: number;
  /** Time each escalation level has before the next one. */
  escalationSlaHours: number;
  /** How many times the dispute is escalated (levels 1…n) before the final breach. */
  escalationLevels: number;
  /** Past the last level: ACCEPT decides in the customer's favour; WAIT keeps waiting for an agent. */
  onFinalBreach: 'ACCEPT' | 'WAIT';
  /** Length of one policy hour in ms (default 3,600,000); end-to-end tests use short hours. */
  hourMs?: number;
}

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

export const DEFAULT_DISPUTE_POLICY: Readonly<DisputePolicy> = Object.freeze({ reviewSlaHours: 48, escalationSlaHours: 24, escalationLevels: 2, onFinalBreach: 'ACCEPT' });

/** What the workflow decides on the final breach with onFinalBreach ACCEPT. */
export const FINAL_BREACH_NOTE = "review deadline passed: decided in the customer's favour";

/** One workflow per dispute. */
export const disputeResolutionWorkflowId = (disputeId: string): string => `dispute-${disputeId}`;

export function isDisputeClosed(status: DisputeStatus | string): boolean {
  return status === 'ACCEPTED' || status === 'REJECTED' || status === 'WITHDRAWN';
}

/** Problems with a policy, each naming the field (empty: usable). */
export function validateDisputePolicy(policy: DisputePolicy): string[] {
  const problems: string[] = [];
  const positive = (field: 'reviewSlaHours' | 'escalationSlaHours') => {
    const v = policy[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) problems.push(`policy.${field} must be a positive number of hours (got ${JSON.stringify(v)})`);
  };
  positive('reviewSlaHours');
  positive('escalationSlaHours');
  if (!Number.isSafeInteger(policy.escalationLevels) || policy.escalationLevels < 0) {
    problems.push(`policy.escalationLevels must be a whole number, 0 or more (got ${JSON.stringify(policy.escalationLevels)})`);
  }
  if (policy.onFinalBreach !== 'ACCEPT' && policy.onFinalBreach !== 'WAIT') problems.push(`policy.onFinalBreach must be "ACCEPT" or "WAIT" (got ${JSON.stringify(policy.onFinalBreach)})`);
  if (policy.hourMs !== undefined && (!Number.isFinite(policy.hourMs) || policy.hourMs <= 0)) problems.push(`policy.hourMs must be a positive number of ms (got ${JSON.stringify(policy.hourMs)})`);
  return problems;
}

/** The SLA in ms of a dispute at `level`: the review SLA at level 0, the escalation SLA above. */
export function slaMs(policy: DisputePolicy, level: number): number {
  const hour = policy.hourMs ?? 3_600_000;
  return (level === 0 ? policy.reviewSlaHours : policy.escalationSlaHours) * hour;
}
