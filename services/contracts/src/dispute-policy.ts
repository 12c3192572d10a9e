// The SLA policy of a dispute: invoicing passes it to every dispute resolution workflow it starts
// and shows the deadlines it sets (`reviewDueAt`); the workflow keeps them. One definition, so what
// an agent sees is what the workflow does. Pure (the workflow bundle imports it: no Node built-ins).

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

export const DEFAULT_DISPUTE_POLICY: Readonly<DisputePolicy> = Object.freeze({ reviewSlaHours: 48, escalationSlaHours: 24, escalationLevels: 2, onFinalBreach: 'ACCEPT' });

/** Problems with a policy, each naming the field (empty: usable). */
export function disputePolicyProblems(policy: DisputePolicy): string[] {
  if (policy === null || typeof policy !== 'object' || Array.isArray(policy)) return [`policy must be an object (got ${JSON.stringify(policy)})`];
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
  if (policy.hourMs !== undefined && (typeof policy.hourMs !== 'number' || !Number.isFinite(policy.hourMs) || policy.hourMs <= 0)) problems.push(`policy.hourMs must be a positive number of ms (got ${JSON.stringify(policy.hourMs)})`);
  return problems;
}

/** The SLA in ms of a dispute at escalation `level`: the review SLA at level 0, the escalation SLA above. */
export function disputeSlaMs(policy: DisputePolicy, level: number): number {
  const hour = policy.hourMs ?? 3_600_000;
  return (level === 0 ? policy.reviewSlaHours : policy.escalationSlaHours) * hour;
}
