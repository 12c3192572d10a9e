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
export interface BillBatchRequest {
  billRunId: string;
  batchNo: number;
}
export interface BillBatchResult {
  batchNo: number;
  accounts: number;
  invoicesCreated: number;
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

/** The invoicing service, as the bill-run and dunning workflows use it. */
export interface InvoicingPort {
  startBillRun(req: StartBillRunRequest, opts?: CallOptions): Promise<BillRunPlan>;
  processBillRunBatch(req: BillBatchRequest, opts?: CallOptions): Promise<BillBatchResult>;
  invoiceStatus(req: { invoiceId: string }, opts?: CallOptions): Promise<InvoiceStatus>;
  addLateFee(req: LateFeeRequest, opts?: CallOptions): Promise<void>;
}

/** Customer notifications (a reminder letter, e-mail or SMS). */
export interface RemindersPort {
  sendReminder(req: ReminderRequest, opts?: CallOptions): Promise<void>;
}

/** Subscribers: suspend and restore all lines of an account (dunning). */
export interface LineControlPort {
  suspendAccountLines(req: LineControlRequest, opts?: CallOptions): Promise<{ lines: number }>;
  restoreAccountLines(req: LineControlRequest, opts?: CallOptions): Promise<{ lines: number }>;
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
    invoiceStatus: (req: { invoiceId: string }) => call(() => deps.invoicing.invoiceStatus(req)),
    addLateFee: (req: LateFeeRequest) => call(() => deps.invoicing.addLateFee(req)),
    sendReminder: (req: ReminderRequest) => call(() => deps.reminders.sendReminder(req)),
    suspendAccountLines: (req: LineControlRequest) => call(() => deps.lines.suspendAccountLines(req)),
    restoreAccountLines: (req: LineControlRequest) => call(() => deps.lines.restoreAccountLines(req)),
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

/** subscribers subgraph: suspend/resume every active line of the account, each with its own key. */
export class GraphqlLineControlClient implements LineControlPort {
  constructor(private readonly client: GraphqlClientOptions) {}

  private async lines(billingAccountId: string, opts?: CallOptions): Promise<{ id: string; status: string }[]> {
    const d = await graphqlRequest<{ billingAccount: { lines: { id: string; status: string }[] } | null }>(this.client, `query($id: ID!) { billingAccount(id: $id) { lines { id status } } }`, { id: billingAccountId }, opts);
    if (!d.billingAccount) throw new DomainError('BILLINGACCOUNT_NOT_FOUND', `Billing account ${billingAccountId} does not exist`);
    return d.billingAccount.lines;
  }

  async suspendAccountLines(req: LineControlRequest, opts?: CallOptions): Promise<{ lines: number }> {
    const lines = (await this.lines(req.billingAccountId, opts)).filter((l) => l.status === 'ACTIVE');
    for (const l of lines) {
      await graphqlRequest(this.client, `mutation($i: LineChangeInput!) { barLine(input: $i) { line { id } } }`, { i: { lineId: l.id, reason: req.reason, idempotencyKey: `${req.idempotencyKey}:${l.id}` } }, opts);
    }
    return { lines: lines.length };
  }

  async restoreAccountLines(req: LineControlRequest, opts?: CallOptions): Promise<{ lines: number }> {
    const lines = (await this.lines(req.billingAccountId, opts)).filter((l) => l.status === 'BARRED' || l.status === 'SUSPENDED');
    for (const l of lines) {
      await graphqlRequest(this.client, `mutation($i: LineChangeInput!) { resumeLine(input: $i) { line { id } } }`, { i: { lineId: l.id, reason: req.reason, idempotencyKey: `${req.idempotencyKey}:${l.id}` } }, opts);
    }
    return { lines: lines.length };
  }
}
