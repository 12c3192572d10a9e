// Event → workflow bridge for bill cycles (ARCHITECTURE "Bill cycle: one long-running workflow per
// billing account"). One durable JetStream consumer of subscribers' billing-account events, in
// stream order (an account's `created` before its `closed`):
// - `billingaccount.created` of a POSTPAID account starts its billCycleWorkflow, id
//   `bill-cycle-<account>`, from the start of the cycle period the account opened in (as a bill run
//   bills it: the same period, so one invoice per account and period whichever closes it). A
//   redelivered or repeated event joins the running cycle; a completed one (account closed) is never
//   started again. PREPAID accounts get none: bill runs bill POSTPAID accounts only (invoicing's
//   `startBillRun`), and closing a prepaid account's period bills nothing.
// - `billingaccount.closed` signals `accountClosed` with the event's closedAt. Invoicing bills the
//   final period from the same event too (application/close-account.ts); both close the same period,
//   and closing a period is idempotent by its start, so one final invoice. No cycle (a prepaid
//   account, one opened before the bridge) or one already ended: logged and acknowledged.
// An event that cannot be read is logged and acknowledged; a Temporal outage fails the batch, which
// is redelivered (starting and signalling are both idempotent here).
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { EVENTS, parseCloudEvent } from '@ledgerline/contracts';
import { runDurableConsumers, type ConsumerHost } from '@ledgerline/platform';
import { startBillCycle } from './client';
import { ACCOUNT_CLOSED_SIGNAL, billCycleWorkflowId, isValidBillCycleDay, isValidTimeZone, periodContaining } from './domain/bill-cycle';
import type { AccountClosed, BillCycleInput } from './workflows/bill-cycle';

/** The durable's filter: subscribers' billing-account events (`changed` is skipped). */
export const BILL_CYCLE_BRIDGE_FILTER = 'billing.subscribers.billingaccount.*';

/** The durable consumer's host (durable names, throw-away for tests) and where cycles start. */
export interface BillCycleBridgeOptions extends ConsumerHost {
  client: Client;
  taskQueue: string;
}

/** What a billing-account event asks of the bridge, or why it cannot be read. */
export type BillCycleCommand =
  | { kind: 'start'; input: BillCycleInput }
  | { kind: 'close'; billingAccountId: string; signal: AccountClosed }
  | { kind: 'skip'; reason: string; billingAccountId: string }
  | { kind: 'unreadable'; problem: string };

/** Reads one billing-account event (pure: exported for tests). */
export function billCycleCommandOf(subject: string, raw: Uint8Array | string): BillCycleCommand {
  let event;
  try {
    event = parseCloudEvent(raw);
  } catch (err) {
    return { kind: 'unreadable', problem: err instanceof Error ? err.message : String(err) };
  }
  const d = (event.data ?? {}) as Record<string, unknown>;
  const id = d.billingAccountId;
  if (typeof id !== 'string' || id === '') return { kind: 'unreadable', problem: 'data.billingAccountId is required' };
  if (subject === EVENTS.billingAccountCreated.subject) {
    if (d.paymentMode === 'PREPAID') return { kind: 'skip', reason: 'prepaid: bill runs do not bill it', billingAccountId: id };
    if (d.paymentMode !== 'POSTPAID') return { kind: 'unreadable', problem: `data.paymentMode must be PREPAID or POSTPAID (got ${JSON.stringify(d.paymentMode)})` };
    if (!isValidBillCycleDay(d.billCycleDay)) return { kind: 'unreadable', problem: `data.billCycleDay must be an integer 1–31 (got ${JSON.stringify(d.billCycleDay)})` };
    if (!isValidTimeZone(d.timezone)) return { kind: 'unreadable', problem: `data.timezone must be an IANA zone (got ${JSON.stringify(d.timezone)})` };
    // The account opened at the event's time (subscribers' createdAt).
    const openedAt = Date.parse(event.time);
    if (Number.isNaN(openedAt)) return { kind: 'unreadable', problem: `time must be an ISO-8601 instant (got ${JSON.stringify(event.time)})` };
    const { periodStart } = periodContaining(new Date(openedAt), d.billCycleDay, d.timezone);
    return { kind: 'start', input: { billingAccountId: id, billCycleDay: d.billCycleDay, timezone: d.timezone, startFrom: periodStart } };
  }
  if (subject === EVENTS.billingAccountClosed.subject) {
    if (typeof d.closedAt !== 'string' || Number.isNaN(Date.parse(d.closedAt))) return { kind: 'unreadable', problem: `data.closedAt must be an ISO-8601 instant (got ${JSON.stringify(d.closedAt)})` };
    return { kind: 'close', billingAccountId: id, signal: { closedAt: new Date(Date.parse(d.closedAt)).toISOString() } };
  }
  return { kind: 'skip', reason: 'not an event the bill cycle acts on', billingAccountId: id };
}

export async function startBillCycleBridge(o: BillCycleBridgeOptions): Promise<() => Promise<void>> {
  const apply = async (c: BillCycleCommand, subject: string, payload: () => string): Promise<void> => {
    if (c.kind === 'unreadable') {
      o.logger.error({ subject, problem: c.problem, payload: payload().slice(0, 2000) }, 'billing-account event ignored by the bill-cycle bridge: it cannot be read');
    } else if (c.kind === 'start') {
      try {
        await startBillCycle(o.client, c.input, { taskQueue: o.taskQueue });
        o.logger.info({ billingAccountId: c.input.billingAccountId, startFrom: c.input.startFrom }, 'bill cycle running');
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err; // the batch is redelivered
        o.logger.info({ billingAccountId: c.input.billingAccountId }, 'bill cycle not started again: it ended (the account closed)');
      }
    } else if (c.kind === 'close') {
      try {
        await o.client.workflow.getHandle(billCycleWorkflowId(c.billingAccountId)).signal(ACCOUNT_CLOSED_SIGNAL, c.signal);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        // A prepaid account, one opened before the bridge ran, or a cycle already over: invoicing bills the final period from the same event.
        o.logger.info({ billingAccountId: c.billingAccountId, closedAt: c.signal.closedAt }, 'account closed: no running bill cycle to tell');
      }
    }
  };
  return runDurableConsumers(o, [
    {
      name: 'billcycle',
      filter: BILL_CYCLE_BRIDGE_FILTER,
      // From the bridge's first start on: accounts opened before it are billed by bill runs (or started with startBillCycle).
      startAt: 'new',
      batchSize: 100,
      handle: async (messages) => {
        // In order: an account's closed event after its created one.
        for (const m of messages) await apply(billCycleCommandOf(m.subject, m.data), m.subject, () => m.string());
      },
    },
  ]);
}
