// How invoicing hands a dispute to its workflow in workflows/ (workflow type
// `disputeResolutionWorkflow`, id `dispute-<disputeId>`, notes/dispute-contract.md): started after
// the dispute is opened (a start that failed is made by the due-date job's next pass) and told to
// look again (signal `disputeDecided`) when the dispute is closed outside the workflow. Tests pass a
// recording fake.

import { DEFAULT_DISPUTE_POLICY, disputePolicyProblems, type DisputePolicy } from '@ledgerline/contracts';

export type { DisputePolicy };

export interface StartDisputeRequest {
  disputeId: string;
  policy: DisputePolicy;
}

export interface DisputeStarter {
  /** Starts the dispute's workflow; starting it again (any number of times) does nothing. */
  start(req: StartDisputeRequest): Promise<void>;
  /** Tells the dispute's workflow to look at the dispute again (it was decided, withdrawn or closed). Best effort. */
  poke(disputeId: string): Promise<void>;
}

export const disputeWorkflowId = (disputeId: string): string => `dispute-${disputeId}`;

/** DISPUTE_POLICY (JSON) or the default; a malformed policy is a configuration error at start-up. */
export function disputePolicyFromEnv(env: NodeJS.ProcessEnv = process.env): DisputePolicy {
  if (!env.DISPUTE_POLICY) return DEFAULT_DISPUTE_POLICY;
  let p: DisputePolicy;
  try {
    p = JSON.parse(env.DISPUTE_POLICY) as DisputePolicy;
  } catch {
    throw new Error(`DISPUTE_POLICY is not JSON: ${env.DISPUTE_POLICY}`);
  }
  const problems = disputePolicyProblems(p);
  if (problems.length > 0) throw new Error(`DISPUTE_POLICY is not a valid policy: ${problems.join('; ')}`);
  return p;
}
