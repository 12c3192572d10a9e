// How invoicing hands an overdue invoice to collections: the dunning workflow in workflows/
// (workflow type `dunningWorkflow`, id `dunning-<invoiceId>`). Tests pass a recording fake.

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
}

export interface DunningStarter {
  /** Starts the invoice's dunning workflow; starting it again (any number of times) does nothing. */
  start(req: StartDunningRequest): Promise<void>;
  /** Tells a running dunning workflow to look at its invoice again (a payment, a dispute). Best effort. */
  poke(invoiceId: string, what: 'paymentRecorded' | 'disputeChanged'): Promise<void>;
}

export const dunningWorkflowId = (invoiceId: string): string => `dunning-${invoiceId}`;

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
