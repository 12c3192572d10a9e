// Invoicing with the real dunning workflow: real PostgreSQL, and Temporal's time-skipping test
// server running workflows/src/workflows/dunning.ts through the workflows package's test support.
// The workflow reads invoices through this invoicing (as GraphqlInvoicingClient.invoiceStatus
// does); reminders, late fees and line holds go to the hooks given, recorded by default.
import { DefaultLogger, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { fileURLToPath } from 'node:url';
import { createInvoicingActivities, type LineControlRequest } from '../../../workflows/src/activities/invoicing';
import { createTimeSkippingEnv, uniqueId } from '../../../workflows/test/support/env';
import { TemporalDunningStarter } from '../src/adapters/temporal-dunning';
import type { DunningPolicy } from '../src/ports/dunning';
import { startHarness, type Harness } from './support';

type Activities = Parameters<typeof createInvoicingActivities>[0];

export const CLOSE = 'mutation($i: CloseBillingPeriodInput!) { closeBillingPeriod(input: $i) { billingPeriod { invoice { id total { amount } } } } }';
export const PAY = 'mutation($i: RecordPaymentInput!) { recordPayment(input: $i) { payment { id } invoice { state } } }';
export const REFUND = 'mutation($i: RefundPaymentInput!) { refundPayment(input: $i) { payment { id } } }';
export const DUE = 'mutation { runDueDateJob { dunningStarted } }';

export interface DunningOnTemporal {
  env: TestWorkflowEnvironment;
  h: Harness;
  suspensions: LineControlRequest[];
  restorations: LineControlRequest[];
  reminders: string[];
  /** A workflow's status name, or NOT_FOUND. */
  status(workflowId: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startDunningOnTemporal(o: {
  name: string;
  at: string;
  policy: DunningPolicy;
  addLateFee?: (h: Harness) => Activities['invoicing']['addLateFee'];
  restoreAccountLines?: Activities['lines']['restoreAccountLines'];
}): Promise<DunningOnTemporal> {
  const env = await createTimeSkippingEnv();
  const taskQueue = uniqueId(o.name);
  const h = await startHarness(o.at, { consume: false, runBillRuns: false, dunning: new TemporalDunningStarter({ client: env.client, taskQueue }), policy: o.policy });
  const suspensions: LineControlRequest[] = [];
  const restorations: LineControlRequest[] = [];
  const reminders: string[] = [];
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('../../../workflows/src/workflows/dunning.ts', import.meta.url)), logger: new DefaultLogger('WARN') }),
    activities: createInvoicingActivities({
      invoicing: {
        startBillRun: async () => ({ billRunId: 'x', totalBatches: 0, totalAccounts: 0 }),
        processBillRunBatch: async (r) => ({ batchNo: r.batchNo, accounts: 0, invoicesCreated: 0 }),
        billRunState: async () => ({ batchesDone: 0, accountsDone: 0, invoicesCreated: 0, accountsWaiting: 0, nextAttemptAt: null }),
        invoiceStatus: async ({ invoiceId }) => {
          const { invoice: i } = await h.gql<any>('query($id: ID!) { invoice(id: $id) { id billingAccountId state amountDue { amount currency } amountDisputed { amount } } }', { id: invoiceId });
          return { invoiceId: i.id, billingAccountId: i.billingAccountId, state: i.state, currency: i.amountDue.currency, amountDue: i.amountDue.amount, amountDisputed: i.amountDisputed.amount };
        },
        addLateFee: o.addLateFee?.(h) ?? (async () => undefined),
      },
      reminders: { sendReminder: async (r) => void reminders.push(r.idempotencyKey) },
      lines: {
        suspendAccountLines: async (r) => (suspensions.push(r), { lines: 1 }),
        restoreAccountLines: async (r) => (restorations.push(r), o.restoreAccountLines ? o.restoreAccountLines(r) : { lines: 1 }),
      },
    }),
    shutdownGraceTime: '1 second',
  });
  const running = worker.run();
  return {
    env,
    h,
    suspensions,
    restorations,
    reminders,
    async status(workflowId) {
      try {
        return (await env.client.workflow.getHandle(workflowId).describe()).status.name;
      } catch {
        return 'NOT_FOUND';
      }
    },
    async stop() {
      worker.shutdown();
      await running.catch(() => undefined);
      await h.svc.close();
      await env.teardown();
    },
  };
}

export async function until(probe: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
