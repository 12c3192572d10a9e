// Activities of the bill-run and dunning workflows, from a factory (CONVENTIONS rule 7): the
// worker passes the GraphQL clients below, tests pass in-memory fakes. Each activity is a thin
// adapter: call the port, map DomainError to a typed ApplicationFailure.
import { DomainError, toActivityFailure } from '../errors';
import { graphqlRequest, type GraphqlClientOptions } from '../adapters/graphql';
import type { CallOptions } from '../ports';

export interface StartBillRunRequest {
  cycleDate: string;
  batchSize: number;
}
export interface BillRunPlan {
  billRunId: string;
  totalBatches: number;
  totalAccounts: number;
}
/** `batchNo` null: any batch due (pending, or waiting for accounts whose period has ended since). */
export interface BillBatchRequest {
  billRunId: string;
  batchNo: number | null;
}
/** `batchNo` null: nothing was due. */
export interface BillBatchResult {
  batchNo: number | null;
  accounts: number;
  invoicesCreated: number;
}
/** Where a bill run stands in invoicing (its batches' totals). */
export interface BillRunState {
  batchesDone: number;
  accountsDone: number;
  invoicesCreated: number;
  /** Accounts whose period had not ended in their own time zone when their batch ran (a run started early). */
  accountsWaiting: number;
  /** ISO instant the first of those periods ends; null when none waits. */
  nextAttemptAt: string | null;
}
export interface InvoiceStatus {
  invoiceId: string;
  billingAccountId: string;
  state: string;
  currency: string;
  /** Decimal strings. */
  amountDue: string;
  amountDisputed: string;
}
export interface LateFeeRequest {
  billingAccountId: string;
  invoiceId: string;
  amount: string;
  currency: string;
  idempotencyKey: string;
}
export interface ReminderRequest {
  invoiceId: string;
  billingAccountId: string;
  level: number;
  idempotencyKey: string;
}
export interface LineControlRequest {
  billingAccountId: string;
  reason: string;
  idempotencyKey: string;
}
/**
 * A restoration lifts only the bars of one suspension: those placed with `suspendKey` (by default
 * the restore key with its `:restore` step read as `:suspend`, i.e. the same workflow's
 * suspension), and, when `lineIds` is given, only on those lines (the ones the suspension reported).
 */
export interface LineRestoreRequest extends LineControlRequest {
  suspendKey?: string;
  lineIds?: string[];
}
/** `lineIds`: the lines this suspension barred (or lifted); absent from fakes and older workers. */
export interface LineControlResult {
  lines: number;
  lineIds?: string[];
}

/** The invoicing service, as the bill-run and dunning workflows use it. */
export interface InvoicingPort {
  startBillRun(req: StartBillRunRequest, opts?: CallOptions): Promise<BillRunPlan>;
  processBillRunBatch(req: BillBatchRequest, opts?: CallOptions): Promise<BillBatchResult>;
  billRunState(req: { billRunId: string }, opts?: CallOptions): Promise<BillRunState>;
  invoiceStatus(req: { invoiceId: string }, opts?: CallOptions): Promise<InvoiceStatus>;
  addLateFee(req: LateFeeRequest, opts?: CallOptions): Promise<void>;
}

/** Customer notifications (a reminder letter, e-mail or SMS). */
export interface RemindersPort {
  sendReminder(req: ReminderRequest, opts?: CallOptions): Promise<void>;
}

/** Subscribers: suspend the active lines of an account, and later lift exactly those bars (dunning). */
export interface LineControlPort {
  suspendAccountLines(req: LineControlRequest, opts?: CallOptions): Promise<LineControlResult>;
  restoreAccountLines(req: LineRestoreRequest, opts?: CallOptions): Promise<LineControlResult>;
}

export interface InvoicingActivityDeps {
  invoicing: InvoicingPort;
  reminders: RemindersPort;
  lines: LineControlPort;
}

export function createInvoicingActivities(deps: InvoicingActivityDeps) {
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toActivityFailure(err);
    }
  };
  return {
    startBillRun: (req: StartBillRunRequest) => call(() => deps.invoicing.startBillRun(req)),
    processBillRunBatch: (req: BillBatchRequest) => call(() => deps.invoicing.processBillRunBatch(req)),
    billRunState: (req: { billRunId: string }) => call(() => deps.invoicing.billRunState(req)),
    invoiceStatus: (req: { invoiceId: string }) => call(() => deps.invoicing.invoiceStatus(req)),
    addLateFee: (req: LateFeeRequest) => call(() => deps.invoicing.addLateFee(req)),
    sendReminder: (req: ReminderRequest) => call(() => deps.reminders.sendReminder(req)),
    suspendAccountLines: (req: LineControlRequest) => call(() => deps.lines.suspendAccountLines(req)),
    restoreAccountLines: (req: LineRestoreRequest) => call(() => deps.lines.restoreAccountLines(req)),
  };
}

export type InvoicingActivities = ReturnType<typeof createInvoicingActivities>;

// ---- GraphQL clients (invoicing and subscribers subgraphs, or the gateway) ----------------------

/** invoicing subgraph: bill runs driven by the workflow, invoice status, late fees. */
export class GraphqlInvoicingClient implements InvoicingPort {
  constructor(private readonly client: GraphqlClientOptions) {}

  async startBillRun(req: StartBillRunRequest, opts?: CallOptions): Promise<BillRunPlan> {
    const d = await graphqlRequest<{ startBillRun: { billRun: { id: string; totalBatches: number; totalAccounts: number } } }>(
      this.client,
      `mutation($i: StartBillRunInput!) { startBillRun(input: $i) { billRun { id totalBatches totalAccounts } } }`,
      { i: { cycleDate: req.cycleDate, batchSize: req.batchSize, driver: 'WORKFLOW' } },
      opts,
    );
    return { billRunId: d.startBillRun.billRun.id, totalBatches: d.startBillRun.billRun.totalBatches, totalAccounts: d.startBillRun.billRun.totalAccounts };
  }

  async processBillRunBatch(req: BillBatchRequest, opts?: CallOptions): Promise<BillBatchResult> {
    const d = await graphqlRequest<{ processBillRunBatch: { batchNo: number | null; accounts: number; invoicesCreated: number } }>(
      this.client,
      `mutation($i: ProcessBillRunBatchInput!) { processBillRunBatch(input: $i) { batchNo accounts invoicesCreated } }`,
      { i: req },
      opts,
    );
    return { batchNo: d.processBillRunBatch.batchNo ?? req.batchNo, accounts: d.processBillRunBatch.accounts, invoicesCreated: d.processBillRunBatch.invoicesCreated };
  }

  async billRunState(req: { billRunId: string }, opts?: CallOptions): Promise<BillRunState> {
    const d = await graphqlRequest<{ billRun: (Omit<BillRunState, 'nextAttemptAt'> & { nextAttemptAt: string | null }) | null }>(
      this.client,
      `query($id: ID!) { billRun(id: $id) { batchesDone accountsDone invoicesCreated accountsWaiting nextAttemptAt } }`,
      { id: req.billRunId },
      opts,
    );
    if (!d.billRun) throw new DomainError('BILL_RUN_NOT_FOUND', `No bill run ${req.billRunId}`);
    return d.billRun;
  }

  async invoiceStatus(req: { invoiceId: string }, opts?: CallOptions): Promise<InvoiceStatus> {
    const d = await graphqlRequest<{ invoice: { id: string; billingAccountId: string; state: string; amountDue: { amount: string; currency: string }; amountDisputed: { amount: string } } | null }>(
      this.client,
      `query($id: ID!) { invoice(id: $id) { id billingAccountId state amountDue { amount currency } amountDisputed { amount } } }`,
      { id: req.invoiceId },
      opts,
    );
    if (!d.invoice) throw new DomainError('INVOICE_NOT_FOUND', `Invoice ${req.invoiceId} does not exist`);
    return { invoiceId: d.invoice.id, billingAccountId: d.invoice.billingAccountId, state: d.invoice.state, currency: d.invoice.amountDue.currency, amountDue: d.invoice.amountDue.amount, amountDisputed: d.invoice.amountDisputed.amount };
  }

  async addLateFee(req: LateFeeRequest, opts?: CallOptions): Promise<void> {
    await graphqlRequest(
      this.client,
      `mutation($i: AddOneOffChargeInput!) { addOneOffCharge(input: $i) { ok } }`,
      { i: { id: req.idempotencyKey.slice(0, 80), billingAccountId: req.billingAccountId, code: 'LATE_FEE', description: `Late payment fee (invoice ${req.invoiceId})`, amount: { amount: req.amount, currency: req.currency } } },
      opts,
    );
  }
}

/** A line as the line-control client sees it: its status and its orders, newest first. */
interface ControlledLine {
  id: string;
  status: string;
  orders: { kind: string; status: string; idempotencyKey: string | null }[];
}

const OPEN_ORDER = new Set(['ACKNOWLEDGED', 'IN_PROGRESS']);

/**
 * Whether the line's bar is the one placed with `barKey`: HELD (it is the line's latest completed
 * bar and the line is still BARRED), OPEN (that bar order is not fulfilled yet), or null (never
 * barred with this key, the bar failed, or the line was resumed, re-barred or terminated since).
 */
function barState(line: ControlledLine, barKey: string): 'HELD' | 'OPEN' | null {
  const ours = line.orders.find((o) => o.kind === 'BAR' && o.idempotencyKey === barKey);
  if (!ours) return null;
  if (OPEN_ORDER.has(ours.status)) return 'OPEN';
  const latestBar = line.orders.find((o) => o.kind === 'BAR' && o.status === 'COMPLETED');
  return line.status === 'BARRED' && latestBar === ours ? 'HELD' : null;
}

/** subscribers refuses a change while another order for the line is open: a passing state. */
function isOrderOpen(err: unknown): boolean {
  return err instanceof DomainError && err.code === 'CONFLICT' && (err.details?.extensions as { reason?: string } | undefined)?.reason === 'ORDER_ALREADY_OPEN';
}

/** Retryable: the activity is retried (its keys replay what it did) until the lines' orders are done. */
function linesBusy(what: string, lineIds: string[]): DomainError {
  return new DomainError('ORDER_ALREADY_OPEN', `Could not ${what} line(s) ${lineIds.join(', ')} yet: an order for each is still open; retried`, { retryable: true, details: { lineIds } });
}

/**
 * subscribers subgraph: bars the account's ACTIVE lines and later lifts only those bars, each line
 * with its own key (`${key}:${lineId}`), so a retry replays and the bar says who placed it. A line
 * the customer suspended, or one barred by anyone else (another invoice's dunning, fraud), is left
 * as it is. A line with an order still open is done on a retry; the others are not held up by it.
 */
export class GraphqlLineControlClient implements LineControlPort {
  constructor(private readonly client: GraphqlClientOptions) {}

  private async lines(billingAccountId: string, opts?: CallOptions): Promise<ControlledLine[]> {
    const d = await graphqlRequest<{ billingAccount: { lines: ControlledLine[] } | null }>(
      this.client,
      `query($id: ID!) { billingAccount(id: $id) { lines { id status orders { kind status idempotencyKey } } } }`,
      { id: billingAccountId },
      opts,
    );
    if (!d.billingAccount) throw new DomainError('BILLINGACCOUNT_NOT_FOUND', `Billing account ${billingAccountId} does not exist`);
    return d.billingAccount.lines;
  }

  /** Bars every ACTIVE line; `lineIds` are the lines barred under this key (this call or an earlier attempt). */
  async suspendAccountLines(req: LineControlRequest, opts?: CallOptions): Promise<LineControlResult> {
    const barred: string[] = [];
    const busy: string[] = [];
    for (const l of await this.lines(req.billingAccountId, opts)) {
      const barKey = `${req.idempotencyKey}:${l.id}`;
      if (barState(l, barKey)) {
        barred.push(l.id); // barred by an earlier attempt
        continue;
      }
      if (l.status !== 'ACTIVE') continue;
      try {
        const d = await graphqlRequest<{ barLine: { order: { status: string } } }>(this.client, `mutation($i: LineChangeInput!) { barLine(input: $i) { order { status } } }`, { i: { lineId: l.id, reason: req.reason, idempotencyKey: barKey } }, opts);
        if (d.barLine.order.status !== 'FAILED') barred.push(l.id); // placed (fulfilled now or by the order workflow)
      } catch (err) {
        if (!isOrderOpen(err)) throw err;
        busy.push(l.id);
      }
    }
    if (busy.length > 0) throw linesBusy('bar', busy);
    return { lines: barred.length, lineIds: barred };
  }

  /** Resumes the lines still barred by the suspension's own bars (see LineRestoreRequest). */
  async restoreAccountLines(req: LineRestoreRequest, opts?: CallOptions): Promise<LineControlResult> {
    const suspendKey = req.suspendKey ?? suspendKeyOf(req.idempotencyKey);
    const only = req.lineIds ? new Set(req.lineIds) : null;
    const restored: string[] = [];
    const busy: string[] = [];
    for (const l of await this.lines(req.billingAccountId, opts)) {
      if (only && !only.has(l.id)) continue;
      const state = barState(l, `${suspendKey}:${l.id}`);
      if (state === 'OPEN') {
        busy.push(l.id); // our bar is not fulfilled yet: lifting it now would leave it barred after
        continue;
      }
      if (state !== 'HELD') continue;
      try {
        await graphqlRequest(this.client, `mutation($i: LineChangeInput!) { resumeLine(input: $i) { line { id } } }`, { i: { lineId: l.id, reason: req.reason, idempotencyKey: `${req.idempotencyKey}:${l.id}` } }, opts);
        restored.push(l.id);
      } catch (err) {
        if (!isOrderOpen(err)) throw err;
        busy.push(l.id);
      }
    }
    if (busy.length > 0) throw linesBusy('resume', busy);
    return { lines: restored.length, lineIds: restored };
  }
}

/** The suspension a restore undoes, by the `${workflowId}:${step}` key convention. */
function suspendKeyOf(restoreKey: string): string {
  if (!restoreKey.endsWith(':restore')) {
    throw new DomainError('BAD_USER_INPUT', `restoreAccountLines: give suspendKey, or an idempotencyKey ending in ":restore" (got "${restoreKey}")`);
  }
  return `${restoreKey.slice(0, -':restore'.length)}:suspend`;
}
