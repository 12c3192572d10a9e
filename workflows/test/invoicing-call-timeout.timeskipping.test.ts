// The bill-run and dunning activities call invoicing over HTTP (the worker's GraphQL clients). Their
// calls had no timeout of their own: a request invoicing (or the gateway, or a proxy) never answered was
// only given up on by Temporal's start-to-close timeout, 5 minutes for a bill-run batch (2 for the plan,
// 1 for dunning's steps), with the request left open next to the retry. They now have the call timeout
// every other activity has (`createInvoicingActivities(deps, { callTimeoutMs })`, `INVOICING_TIMEOUT`,
// retryable, the request aborted), so a hung call is retried within the call timeout.
// A local HTTP server plays invoicing: the first request of each operation is never answered.
// The time-skipping server does not skip time while an activity runs, so the hung call costs real time.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvoicingActivities, GraphqlDunningNotices, GraphqlInvoicingClient, GraphqlLineControlClient } from '../src/activities/invoicing';
import { billRunWorkflow, billRunWorkflowId } from '../src/workflows/bill-run';
import { dunningWorkflow, dunningWorkflowId, paymentRecordedSignal } from '../src/workflows/dunning';
import { createTimeSkippingEnv, TEST_CALL_TIMEOUT_MS, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
let server: Server;
let url: string;
/** Requests seen per operation (the mutation or query field), and those left hanging. */
const seen = new Map<string, number>();
const hanging = new Set<ServerResponse>();
let amountDue = '24.63';

/** The operation a request is for: the first field of its selection. */
function operationOf(query: string): string {
  return /\{\s*(\w+)/.exec(query)?.[1] ?? 'unknown';
}

function answer(op: string, variables: Record<string, any>): unknown {
  switch (op) {
    case 'startBillRun':
      return { startBillRun: { billRun: { id: 'billrun_hung', totalBatches: 1, totalAccounts: 2 } } };
    case 'processBillRunBatch':
      return { processBillRunBatch: { batchNo: variables.i.batchNo, accounts: 2, invoicesCreated: 2 } };
    case 'billRun':
      return { billRun: { batchesDone: 1, accountsDone: 2, invoicesCreated: 2, accountsWaiting: 0, nextAttemptAt: null } };
    case 'invoice':
      return { invoice: { id: variables.id, billingAccountId: 'acc_hung', state: amountDue === '0' ? 'SETTLED' : 'SENT', amountDue: { amount: amountDue, currency: 'EUR' }, amountDisputed: { amount: '0' } } };
    case 'recordDunningNotice':
      return { recordDunningNotice: { published: true } };
    default:
      return null;
  }
}

beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { query, variables } = JSON.parse(body) as { query: string; variables: Record<string, any> };
      const op = operationOf(query);
      const n = (seen.get(op) ?? 0) + 1;
      seen.set(op, n);
      if (n === 1) {
        hanging.add(res); // never answered
        res.on('close', () => hanging.delete(res));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: answer(op, variables) }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}, 120_000);

afterAll(async () => {
  for (const res of hanging) res.destroy();
  await new Promise((r) => server?.close(r));
  await env?.teardown();
});

async function worker(taskQueue: string): Promise<Worker> {
  const client = { url };
  return Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createInvoicingActivities(
      { invoicing: new GraphqlInvoicingClient(client), reminders: new GraphqlDunningNotices(client), lines: new GraphqlLineControlClient(client) },
      { callTimeoutMs: TEST_CALL_TIMEOUT_MS, billRunCallTimeoutMs: TEST_CALL_TIMEOUT_MS },
    ),
    shutdownGraceTime: '1 second',
  });
}

describe('bill-run and dunning activities against an invoicing that does not answer', () => {
  it('a bill run retries its hung plan, batch and state calls within the call timeout, not after the activity timeout', async () => {
    const taskQueue = uniqueId('billrun-hung');
    const w = await worker(taskQueue);
    await w.runUntil(async () => {
      const startedAt = Date.now();
      const result = await env.client.workflow.execute(billRunWorkflow, { taskQueue, workflowId: billRunWorkflowId(`2026-10-01-${taskQueue}`), args: [{ cycleDate: '2026-10-01', batchSize: 2 }] });
      expect(result).toMatchObject({ billRunId: 'billrun_hung', batchesDone: 1, accountsDone: 2, invoicesCreated: 2, done: true });
      // Each of the three hung once: three call timeouts and the first retry's second of back-off each.
      expect([seen.get('startBillRun'), seen.get('processBillRunBatch'), seen.get('billRun')]).toEqual([2, 2, 2]);
      expect(Date.now() - startedAt).toBeLessThan(20_000);
    });
  }, 40_000);

  it('a dunning retries its hung invoice look and reminder within the call timeout', async () => {
    const taskQueue = uniqueId('dunning-hung');
    const w = await worker(taskQueue);
    await w.runUntil(async () => {
      const startedAt = Date.now();
      const handle = await env.client.workflow.start(dunningWorkflow, {
        taskQueue,
        workflowId: dunningWorkflowId(`inv_${taskQueue}`),
        args: [{ invoiceId: `inv_${taskQueue}`, billingAccountId: 'acc_hung', dueDate: new Date(await env.currentTimeMs()).toISOString(), policy: { reminderDays: [1], suspendAfterDays: 30 } }],
      });
      await env.sleep('2 days');
      expect(seen.get('recordDunningNotice')).toBe(2); // hung once, then the reminder went out
      amountDue = '0';
      await handle.signal(paymentRecordedSignal);
      expect(await handle.result()).toMatchObject({ phase: 'PAID', stepsDone: ['REMINDER_1'] });
      expect(seen.get('invoice')).toBeGreaterThanOrEqual(3); // the first look hung
      expect(Date.now() - startedAt).toBeLessThan(20_000);
    });
  }, 40_000);
});
