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
  /** Which run of the dispute's workflow (default 1): the due-date pass starts the next one when the last ended with the dispute still open. */
  run?: number;
}

export interface DisputeStarter {
  /** Starts the dispute's `run`-th workflow; starting it again (any number of times) does nothing. */
  start(req: StartDisputeRequest): Promise<void>;
  /**
   * Whether the dispute's `run`-th workflow is still running (false: it ended — completed, failed,
   * terminated, timed out, canceled — or is not known). A starter without it is never asked, and a
   * workflow that ended with the dispute open is not restarted.
   */
  running?(disputeId: string, run: number): Promise<boolean>;
  /** Tells the dispute's `run`-th workflow (default 1; the newest) to look at the dispute again (it was decided, withdrawn or closed). Best effort. */
  poke(disputeId: string, run?: number): Promise<void>;
}

/**
 * The workflow id of a dispute's `run`-th run: `dispute-<id>`, then `dispute-<id>-<n>`. A new id per
 * run because an id is started once ever (REJECT_DUPLICATE); the workflow's steps are idempotent
 * invoicing mutations keyed by the dispute, not by the workflow id, so a later run repeats nothing.
 */
export const disputeWorkflowId = (disputeId: string, run = 1): string => (run > 1 ? `dispute-${disputeId}-${run}` : `dispute-${disputeId}`);

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
