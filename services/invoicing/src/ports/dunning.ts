// How invoicing hands an overdue invoice to collections: the dunning workflow in workflows/
// (workflow type `dunningWorkflow`, id `dunning-<invoiceId>`, and `dunning-<invoiceId>-<n>` for the
// n-th dunning of an invoice a refund reopened). Tests pass a recording fake.

export interface DunningPolicy {
  /** Days after the due date for each reminder. */
  reminderDays: number[];
  lateFee?: { afterDays: number; amount: string } | null;
  suspendAfterDays: number;
  /** Length of one policy "day" in ms (default a day); short in end-to-end tests. */
  dayMs?: number;
}

export interface StartDunningRequest {
  invoiceId: string;
  billingAccountId: string;
  /** ISO instant. */
  dueDate: string;
  policy: DunningPolicy;
  /**
   * Which dunning of the invoice this is (default 1). From the second on, the previous run
   * (`run - 1`) is looked at first: still running, it is told to look again and no new one starts.
   */
  run?: number;
}

export interface DunningStarter {
  /**
   * Starts the invoice's `run`-th dunning workflow; starting it again (any number of times) does
   * nothing. Answers the run now dunning the invoice (the previous one if it is still going); a fake
   * may answer nothing (taken as `run`).
   */
  start(req: StartDunningRequest): Promise<number | void>;
  /** Tells a running dunning workflow (the invoice's `run`-th, default 1) to look at its invoice again (a payment, a dispute). Best effort. */
  poke(invoiceId: string, what: 'paymentRecorded' | 'disputeChanged', run?: number): Promise<void>;
}

/**
 * The workflow id of an invoice's `run`-th dunning, also the holder of its collections holds. A new
 * id per dunning, not the same id started again: the workflow derives its idempotency keys from its
 * id (`<id>:reminder-1`, `<id>:suspend`, …), so a second run under the first one's id would replay
 * the first one's reminders and lifted hold, and never bar the lines.
 */
export const dunningWorkflowId = (invoiceId: string, run = 1): string => (run > 1 ? `dunning-${invoiceId}-${run}` : `dunning-${invoiceId}`);

export const DEFAULT_DUNNING_POLICY: DunningPolicy = { reminderDays: [1, 7], lateFee: { afterDays: 10, amount: '5.00' }, suspendAfterDays: 14 };

/** DUNNING_POLICY (JSON) or the default; a malformed policy is a configuration error at start-up. */
export function dunningPolicyFromEnv(env: NodeJS.ProcessEnv = process.env): DunningPolicy {
  if (!env.DUNNING_POLICY) return DEFAULT_DUNNING_POLICY;
  const p = JSON.parse(env.DUNNING_POLICY) as DunningPolicy;
  const days = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;
  if (!Array.isArray(p.reminderDays) || !p.reminderDays.every(days) || !days(p.suspendAfterDays) || (p.dayMs !== undefined && !(typeof p.dayMs === 'number' && p.dayMs > 0)) || (p.lateFee && (!days(p.lateFee.afterDays) || !/^\d+(\.\d+)?$/.test(p.lateFee.amount)))) {
    throw new Error(`DUNNING_POLICY is not a valid policy: ${env.DUNNING_POLICY}`);
  }
  return p;
}
