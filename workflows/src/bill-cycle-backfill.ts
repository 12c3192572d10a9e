// Backfill of bill cycles for accounts the bill-cycle bridge never saw (src/bill-cycle-bridge.ts).
//
// The bridge starts a cycle from `billingaccount.created`, and its durable consumer reads events
// from its first start on: an account opened before (a deployment upgrading to the bridge, events
// older than the consumer) has no cycle and is billed only by an operator's bill run. This pass asks
// subscribers for every OPEN POSTPAID account and starts the cycle of each that has none running,
// from the cycle period containing `now` (earlier periods are the bill runs' of their cycle dates).
//
// Safe to run twice, on several workers, or alongside the bridge: it starts through the bridge's
// `startBillCycle` (id `bill-cycle-<account>`, USE_EXISTING while one runs, a completed cycle never
// started again), so each account gets one workflow. An account closed between the listing and the
// start may have had its `billingaccount.closed` handled by the bridge before the cycle existed (no
// cycle to tell): the account is read again after the start and, closed, its cycle is signalled
// `accountClosed` with the account's closedAt, as the bridge would have.
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { graphqlRequest, type GraphqlClientOptions } from './adapters/graphql';
import { startBillCycle } from './client';
import { ACCOUNT_CLOSED_SIGNAL, billCycleWorkflowId, isValidBillCycleDay, isValidTimeZone, periodContaining } from './domain/bill-cycle';
import type { AccountClosed, BillCycleInput } from './workflows/bill-cycle';

/** What the backfill needs of a billing account (subscribers' BillingAccount). */
export interface PostpaidAccount {
  id: string;
  billCycleDay: number;
  timezone: string;
  status: 'OPEN' | 'CLOSED';
  /** ISO instant; null while open. */
  closedAt: string | null;
}

export interface PostpaidAccountsPage {
  accounts: PostpaidAccount[];
  endCursor: string | null;
  hasNextPage: boolean;
}

/** Subscribers: open postpaid accounts in id order (a Relay connection), and one account read again. */
export interface PostpaidAccountsPort {
  openPostpaidAccounts(req: { first: number; after: string | null }): Promise<PostpaidAccountsPage>;
  account(id: string): Promise<PostpaidAccount | null>;
}

/** A GraphQL call: the worker's `graphqlRequest` or the CLI's client through the gateway. */
export type GraphCall = <T>(query: string, variables: Record<string, unknown>) => Promise<T>;

const ACCOUNT_FIELDS = 'id billCycleDay timezone status closedAt';

/** subscribers subgraph (or the gateway): `billingAccounts`, staff only (the worker's SYSTEM token, the CLI's ADMIN one). */
export class GraphqlPostpaidAccountsClient implements PostpaidAccountsPort {
  private readonly call: GraphCall;
  constructor(client: GraphqlClientOptions | GraphCall) {
    this.call = typeof client === 'function' ? client : (q, v) => graphqlRequest(client, q, v);
  }

  async openPostpaidAccounts(req: { first: number; after: string | null }): Promise<PostpaidAccountsPage> {
    const d = await this.call<{ billingAccounts: { edges: { node: PostpaidAccount }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>(
      `query($first: Int, $after: String) {
        billingAccounts(first: $first, after: $after, filter: { paymentMode: POSTPAID, status: OPEN }) { edges { node { ${ACCOUNT_FIELDS} } } pageInfo { hasNextPage endCursor } }
      }`,
      { first: req.first, after: req.after },
    );
    return { accounts: d.billingAccounts.edges.map((e) => e.node), hasNextPage: d.billingAccounts.pageInfo.hasNextPage, endCursor: d.billingAccounts.pageInfo.endCursor };
  }

  async account(id: string): Promise<PostpaidAccount | null> {
    return (await this.call<{ billingAccount: PostpaidAccount | null }>(`query($id: ID!) { billingAccount(id: $id) { ${ACCOUNT_FIELDS} } }`, { id })).billingAccount;
  }
}

/** What became of one account. */
export type BackfillEntry =
  | { billingAccountId: string; action: 'started' | 'would-start'; input: BillCycleInput; /** The status of the cycle it replaces (FAILED, TERMINATED…), none if it never had one. */ previous: string | null }
  /** Started, then found closed: its cycle was told (`accountClosed` at closedAt). */
  | { billingAccountId: string; action: 'started-and-closed'; input: BillCycleInput; previous: string | null; closedAt: string }
  | { billingAccountId: string; action: 'skipped'; reason: string }
  | { billingAccountId: string; action: 'failed'; error: string };

export interface BackfillOutcome {
  dryRun: boolean;
  /** Open postpaid accounts read. */
  examined: number;
  entries: BackfillEntry[];
  /** Accounts that could not be looked at or started (logged; a later run tries again). */
  failed: number;
}

export interface BackfillLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface BillCycleBackfillOptions {
  accounts: PostpaidAccountsPort;
  client: Client;
  taskQueue: string;
  /** The cycles start from the period containing this instant. */
  now: Date;
  /** Look only: report what would be started, start nothing. */
  dryRun?: boolean;
  /**
   * Start again cycles someone ended on purpose (TERMINATED or CANCELLED in Temporal). Off by default:
   * an operator who terminated a stuck or unwanted cycle must not see it come back at the next worker
   * start (`BILL_CYCLE_BACKFILL=on`); FAILED and TIMED_OUT cycles are always started again.
   */
  restartEnded?: boolean;
  /** Accounts per page (default 100). */
  pageSize?: number;
  logger?: BackfillLogger;
  /** Called as each account is decided (the CLI prints as it goes). */
  onEntry?: (e: BackfillEntry) => void;
}

/** The cycle's status (its latest run), or null when Temporal has none with that id. */
export async function cycleStatus(client: Client, billingAccountId: string): Promise<string | null> {
  try {
    return (await client.workflow.getHandle(billCycleWorkflowId(billingAccountId)).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

async function backfillOne(o: BillCycleBackfillOptions, a: PostpaidAccount): Promise<BackfillEntry> {
  const billingAccountId = a.id;
  if (!isValidBillCycleDay(a.billCycleDay) || !isValidTimeZone(a.timezone)) {
    return { billingAccountId, action: 'skipped', reason: `the workflow would refuse its bill-cycle day ${JSON.stringify(a.billCycleDay)} or zone ${JSON.stringify(a.timezone)}` };
  }
  const previous = await cycleStatus(o.client, billingAccountId);
  if (previous === 'RUNNING') return { billingAccountId, action: 'skipped', reason: 'its bill cycle is running' };
  // A completed cycle means the account closed (the only way a cycle ends): never started again.
  if (previous === 'COMPLETED') return { billingAccountId, action: 'skipped', reason: 'its bill cycle ended (the account closed)' };
  if ((previous === 'TERMINATED' || previous === 'CANCELLED') && !o.restartEnded) {
    return { billingAccountId, action: 'skipped', reason: `its bill cycle was ${previous.toLowerCase()} by an operator (restart it with --restart-ended)` };
  }
  const input: BillCycleInput = { billingAccountId, billCycleDay: a.billCycleDay, timezone: a.timezone, startFrom: periodContaining(o.now, a.billCycleDay, a.timezone).periodStart };
  if (o.dryRun) return { billingAccountId, action: 'would-start', input, previous };
  try {
    await startBillCycle(o.client, input, { taskQueue: o.taskQueue });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return { billingAccountId, action: 'skipped', reason: 'its bill cycle ended (the account closed)' };
  }
  // Closed since the listing: the bridge may have found no cycle to tell.
  const now = await o.accounts.account(billingAccountId);
  if (now?.status === 'CLOSED' && now.closedAt) {
    const closedAt = new Date(Date.parse(now.closedAt)).toISOString();
    const signal: AccountClosed = { closedAt };
    await o.client.workflow.getHandle(billCycleWorkflowId(billingAccountId)).signal(ACCOUNT_CLOSED_SIGNAL, signal);
    return { billingAccountId, action: 'started-and-closed', input, previous, closedAt };
  }
  return { billingAccountId, action: 'started', input, previous };
}

/**
 * One pass over subscribers' open postpaid accounts, page by page: starts the bill cycle of each
 * that has none running. A failure on one account (Temporal or subscribers refusing) is logged,
 * counted and the pass goes on; a page that cannot be read ends the pass (thrown).
 */
export async function backfillBillCycles(o: BillCycleBackfillOptions): Promise<BackfillOutcome> {
  const out: BackfillOutcome = { dryRun: Boolean(o.dryRun), examined: 0, entries: [], failed: 0 };
  const first = o.pageSize ?? 100;
  let after: string | null = null;
  for (;;) {
    const page: PostpaidAccountsPage = await o.accounts.openPostpaidAccounts({ first, after });
    for (const a of page.accounts) {
      out.examined += 1;
      let entry: BackfillEntry;
      try {
        entry = await backfillOne(o, a);
      } catch (err) {
        out.failed += 1;
        entry = { billingAccountId: a.id, action: 'failed', error: err instanceof Error ? err.message : String(err) };
        o.logger?.warn({ billingAccountId: a.id, err }, 'bill-cycle backfill: could not start the cycle of an account; a later run tries again');
      }
      if (entry.action === 'started' || entry.action === 'started-and-closed') o.logger?.info({ ...entry }, 'bill-cycle backfill: bill cycle started');
      out.entries.push(entry);
      o.onEntry?.(entry);
    }
    if (!page.hasNextPage || !page.endCursor) break;
    after = page.endCursor;
  }
  return out;
}
