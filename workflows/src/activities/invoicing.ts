// Activities of the bill-run and dunning workflows, from a factory (CONVENTIONS rule 7): the
// worker passes the GraphQL clients below, tests pass in-memory fakes. Each activity is a thin
// adapter: call the port with an abort signal (call timeout, cancellation), map DomainError to a
// typed ApplicationFailure.
import { portCaller } from './call-port';
import { DomainError } from '../errors';
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
  /** The batch's accounts invoicing set aside (it could not bill them for a reason their data gives): in `accounts`, not billed. Absent: none. */
  accountsSetAside?: number;
  /**
   * Accounts of the batch the call did not get to (invoicing's time budget per call spent; what it decided is
   * committed): the batch is not done, the workflow calls it again. Absent (fakes, older invoicing): none.
   */
  accountsLeft?: number;
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
  /** Accounts set aside and not billed since (BillRun.setAsideAccounts in invoicing). Absent: none. */
  accountsSetAside?: number;
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
/** Waives the late fee charged under `idempotencyKey` (the fee's own key), if it reached invoicing. */
export interface LateFeeWaiverRequest {
  invoiceId: string;
  idempotencyKey: string;
  reason: string;
}
/**
 * invoicing's answer (waiveOneOffCharge): WAIVED_IN_ADVANCE (the fee had not reached it: should the request
 * given up on still come, it is recorded waived, never billed), WAIVED (unbilled: it never will be), CREDITED
 * (billed: a credit note gave it back, `creditNoteId`), NOT_FOUND (an id no charge can have). Asking again
 * answers the same.
 */
export interface LateFeeWaiver {
  outcome: 'NOT_FOUND' | 'WAIVED_IN_ADVANCE' | 'WAIVED' | 'CREDITED';
  creditNoteId: string | null;
}
/** A late fee the policy adds later if the invoice stays unpaid: amount (decimal string, invoice's currency) and ISO instant. */
export interface UpcomingLateFee {
  amount: string;
  at: string;
}
/**
 * A reminder of an overdue invoice (`notice` FINAL_NOTICE: the last one before the bar), with what
 * comes next if it stays unpaid. The invoice's number, what it owes and its due date are invoicing's
 * to tell (it reads them when the notice is recorded). `notice`, `lateFee` and `barAt` are absent
 * from runs of older workers (a plain REMINDER then).
 */
export interface ReminderRequest {
  invoiceId: string;
  billingAccountId: string;
  level: number;
  idempotencyKey: string;
  notice?: 'REMINDER' | 'FINAL_NOTICE';
  lateFee?: UpcomingLateFee | null;
  /** ISO instant the lines will be barred; null when no bar is to come. */
  barAt?: string | null;
}
/** The other dunning notices: the lines barred, and back on after the payment (`linesResumed`: lines the lifted hold switched back on). */
export interface DunningNoticeRequest {
  invoiceId: string;
  billingAccountId: string;
  notice: 'BARRED' | 'RESTORED';
  idempotencyKey: string;
  linesResumed?: number | null;
}
export interface LineControlRequest {
  billingAccountId: string;
  reason: string;
  idempotencyKey: string;
  /**
   * Who holds the lines in subscribers: one collections hold per holder and line (the dunning
   * workflow's id). Absent from runs of older workers: read from the key (`<holder>:suspend`).
   */
  holdId?: string;
}
/**
 * Lifts the holder's collections holds. Without `holdId` (runs of older workers) the holder is read
 * from `suspendKey`, the suspension's key, or else from the restore key (`<holder>:restore`);
 * `lineIds`, also from older runs, is not needed any more (the holds know their lines).
 */
export interface LineRestoreRequest extends LineControlRequest {
  suspendKey?: string;
  lineIds?: string[];
}
/** `lineIds`: the lines under this holder's holds (suspension) or resumed (restoration); absent from fakes. */
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
  /** Optional: fakes and stand-ins without it make `waiveLateFee` fail LATE_FEE_WAIVER_UNSUPPORTED (not retried). */
  waiveLateFee?(req: LateFeeWaiverRequest, opts?: CallOptions): Promise<LateFeeWaiver>;
}

/**
 * What dunning tells the customer (invoicing records the step and publishes it; subscribers sends the
 * messages). Idempotent by `idempotencyKey`: a retry tells nothing twice.
 */
export interface RemindersPort {
  sendReminder(req: ReminderRequest, opts?: CallOptions): Promise<void>;
  /** The bar and restoration notices. Optional: fakes without it send none (the activity does nothing). */
  sendDunningNotice?(req: DunningNoticeRequest, opts?: CallOptions): Promise<void>;
}

/** Subscribers: hold the lines of an account for one dunning (barring the active ones), and later lift that hold. */
export interface LineControlPort {
  suspendAccountLines(req: LineControlRequest, opts?: CallOptions): Promise<LineControlResult>;
  restoreAccountLines(req: LineRestoreRequest, opts?: CallOptions): Promise<LineControlResult>;
}

export interface InvoicingActivityDeps {
  invoicing: InvoicingPort;
  reminders: RemindersPort;
  lines: LineControlPort;
}

export interface InvoicingActivityOptions {
  /** Longest wait for one call to invoicing (invoice look, late fee, waiver, notices, bill-run state): default 20 s, under the steps' 1-minute activity timeout. */
  callTimeoutMs?: number;
  /**
   * Longest wait for planning a bill run and billing one batch (one transaction of up to `batchSize` accounts):
   * default 90 s, under their 2- and 5-minute activity timeouts. A batch cut off is retried and, invoicing still
   * holding it, answered what the first attempt left once that commits or rolls back.
   */
  billRunCallTimeoutMs?: number;
  /** Longest wait for placing or lifting a collections hold in subscribers (it bars or resumes lines in the network): default 45 s, under the 1-minute activity timeout. */
  linesCallTimeoutMs?: number;
}

/**
 * Each call goes through `portCaller` like every other activity's (call-port.ts): aborted when it outlives its
 * call timeout (a retryable `INVOICING_TIMEOUT` / `SUBSCRIBERS_TIMEOUT`, the HTTP request ended rather than
 * left open beside its retry) or when the activity is cancelled (worker shutdown: a retryable WORKER_SHUTDOWN).
 * Before, a request that was never answered was cut only by Temporal's start-to-close timeout (5 minutes for a
 * bill-run batch, 1 for dunning's steps). `test/invoicing-call-timeout.timeskipping.test.ts`.
 */
export function createInvoicingActivities(deps: InvoicingActivityDeps, { callTimeoutMs = 20_000, billRunCallTimeoutMs = 90_000, linesCallTimeoutMs = 45_000 }: InvoicingActivityOptions = {}) {
  const call = portCaller(callTimeoutMs);
  const billRunCall = portCaller(billRunCallTimeoutMs);
  const linesCall = portCaller(linesCallTimeoutMs);
  return {
    startBillRun: (req: StartBillRunRequest) => billRunCall('INVOICING', (o) => deps.invoicing.startBillRun(req, o)),
    processBillRunBatch: (req: BillBatchRequest) => billRunCall('INVOICING', (o) => deps.invoicing.processBillRunBatch(req, o)),
    billRunState: (req: { billRunId: string }) => call('INVOICING', (o) => deps.invoicing.billRunState(req, o)),
    invoiceStatus: (req: { invoiceId: string }) => call('INVOICING', (o) => deps.invoicing.invoiceStatus(req, o)),
    addLateFee: (req: LateFeeRequest) => call('INVOICING', (o) => deps.invoicing.addLateFee(req, o)),
    waiveLateFee: (req: LateFeeWaiverRequest) =>
      call('INVOICING', (o) => {
        if (!deps.invoicing.waiveLateFee) throw new DomainError('LATE_FEE_WAIVER_UNSUPPORTED', 'This invoicing client cannot waive a late fee');
        return deps.invoicing.waiveLateFee(req, o);
      }),
    sendReminder: (req: ReminderRequest) => call('INVOICING', (o) => deps.reminders.sendReminder(req, o)),
    sendDunningNotice: (req: DunningNoticeRequest) => call('INVOICING', async (o) => void (await deps.reminders.sendDunningNotice?.(req, o))),
    suspendAccountLines: (req: LineControlRequest) => linesCall('SUBSCRIBERS', (o) => deps.lines.suspendAccountLines(req, o)),
    restoreAccountLines: (req: LineRestoreRequest) => linesCall('SUBSCRIBERS', (o) => deps.lines.restoreAccountLines(req, o)),
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
    const d = await graphqlRequest<{ processBillRunBatch: { batchNo: number | null; accounts: number; invoicesCreated: number; accountsSetAside: number; accountsLeft: number } }>(
      this.client,
      `mutation($i: ProcessBillRunBatchInput!) { processBillRunBatch(input: $i) { batchNo accounts invoicesCreated accountsSetAside accountsLeft } }`,
      { i: req },
      opts,
    );
    const r = d.processBillRunBatch;
    return { batchNo: r.batchNo ?? req.batchNo, accounts: r.accounts, invoicesCreated: r.invoicesCreated, accountsSetAside: r.accountsSetAside, accountsLeft: r.accountsLeft };
  }

  async billRunState(req: { billRunId: string }, opts?: CallOptions): Promise<BillRunState> {
    const d = await graphqlRequest<{ billRun: (Omit<BillRunState, 'nextAttemptAt'> & { nextAttemptAt: string | null }) | null }>(
      this.client,
      `query($id: ID!) { billRun(id: $id) { batchesDone accountsDone invoicesCreated accountsWaiting nextAttemptAt accountsSetAside } }`,
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

  /** waiveOneOffCharge on the fee's one-off charge (its id is the fee's key, as addLateFee sends it). */
  async waiveLateFee(req: LateFeeWaiverRequest, opts?: CallOptions): Promise<LateFeeWaiver> {
    const d = await graphqlRequest<{ waiveOneOffCharge: { outcome: LateFeeWaiver['outcome']; creditNote: { id: string } | null } }>(
      this.client,
      `mutation($i: WaiveOneOffChargeInput!) { waiveOneOffCharge(input: $i) { outcome creditNote { id } } }`,
      { i: { id: req.idempotencyKey.slice(0, 80), reason: req.reason } },
      opts,
    );
    return { outcome: d.waiveOneOffCharge.outcome, creditNoteId: d.waiveOneOffCharge.creditNote?.id ?? null };
  }
}

/**
 * invoicing: dunning's customer notices (recordDunningNotice). Invoicing reads the invoice (number,
 * what it still owes, due date), publishes a customerBillDunningNotice keyed by the step's key, and
 * subscribers tells the customer on their channels; a reminder or bar notice of an invoice paid
 * meanwhile is not published. The same key again publishes nothing more.
 */
export class GraphqlDunningNotices implements RemindersPort {
  constructor(private readonly client: GraphqlClientOptions) {}

  private async record(input: Record<string, unknown>, opts?: CallOptions): Promise<void> {
    await graphqlRequest(this.client, `mutation($i: RecordDunningNoticeInput!) { recordDunningNotice(input: $i) { published } }`, { i: input }, opts);
  }

  async sendReminder(req: ReminderRequest, opts?: CallOptions): Promise<void> {
    await this.record({ invoiceId: req.invoiceId, notice: req.notice ?? 'REMINDER', level: req.level, idempotencyKey: req.idempotencyKey, lateFee: req.lateFee ?? null, barAt: req.barAt ?? null }, opts);
  }

  async sendDunningNotice(req: DunningNoticeRequest, opts?: CallOptions): Promise<void> {
    await this.record({ invoiceId: req.invoiceId, notice: req.notice, idempotencyKey: req.idempotencyKey, linesResumed: req.linesResumed ?? null }, opts);
  }
}

/**
 * Retryable: the activity is retried (its key replays what it did) until the lines' other orders are
 * done and the network has taken the bar or resumption (subscribers tries a refused one again on each
 * retry). The code stays ORDER_ALREADY_OPEN: callers (the orphaned-holds sweep) read it as "not done yet".
 */
function linesBusy(what: string, lineIds: string[]): DomainError {
  return new DomainError('ORDER_ALREADY_OPEN', `Could not ${what} line(s) ${lineIds.join(', ')} yet: another order for each is still open, or the network refused it; retried`, { retryable: true, details: { lineIds } });
}

interface HoldPayload {
  holds: { line: { id: string } }[];
  lines: { id: string }[];
  waiting: { id: string }[];
}
const HOLD_FIELDS = 'holds { line { id } } lines { id } waiting { id }';

/**
 * subscribers subgraph: dunning's collections holds (placeCollectionsHold / liftCollectionsHold).
 * A suspension holds every live line of the account for this dunning and bars the ACTIVE ones; the
 * restoration lifts this dunning's holds, and subscribers resumes a line only when no other
 * dunning still holds it and its bar is a collections bar (a line the customer suspended, or one
 * barred for fraud, stays as it is). Both are idempotent by key; a line with another order open is
 * done on a retry of the activity, the others are not held up by it.
 */
export class GraphqlLineControlClient implements LineControlPort {
  constructor(private readonly client: GraphqlClientOptions) {}

  private async hold(mutation: 'placeCollectionsHold' | 'liftCollectionsHold', req: LineControlRequest, holder: string, opts?: CallOptions): Promise<HoldPayload> {
    const d = await graphqlRequest<Record<typeof mutation, HoldPayload>>(
      this.client,
      `mutation($i: CollectionsHoldInput!) { ${mutation}(input: $i) { ${HOLD_FIELDS} } }`,
      { i: { billingAccountId: req.billingAccountId, holder, reason: req.reason, idempotencyKey: req.idempotencyKey } },
      opts,
    );
    return d[mutation];
  }

  /** Holds the account's lines for this dunning; `lineIds` are the lines it holds. */
  async suspendAccountLines(req: LineControlRequest, opts?: CallOptions): Promise<LineControlResult> {
    const r = await this.hold('placeCollectionsHold', req, req.holdId ?? holderOf(req.idempotencyKey, ':suspend'), opts);
    if (r.waiting.length > 0) throw linesBusy('bar', r.waiting.map((l) => l.id));
    const lineIds = r.holds.map((h) => h.line.id);
    return { lines: lineIds.length, lineIds };
  }

  /** Lifts this dunning's holds; `lineIds` are the lines resumed (no other hold left on them). */
  async restoreAccountLines(req: LineRestoreRequest, opts?: CallOptions): Promise<LineControlResult> {
    const holder = req.holdId ?? (req.suspendKey ? holderOf(req.suspendKey, ':suspend') : holderOf(req.idempotencyKey, ':restore'));
    const r = await this.hold('liftCollectionsHold', req, holder, opts);
    if (r.waiting.length > 0) throw linesBusy('resume', r.waiting.map((l) => l.id));
    const lineIds = r.lines.map((l) => l.id);
    return { lines: lineIds.length, lineIds };
  }
}

/** The holder of an older run's request, by the `${workflowId}:${step}` key convention. */
function holderOf(key: string, step: ':suspend' | ':restore'): string {
  if (!key.endsWith(step)) {
    throw new DomainError('BAD_USER_INPUT', `line control: give holdId, or an idempotencyKey ending in "${step}" (got "${key}")`);
  }
  return key.slice(0, -step.length);
}
