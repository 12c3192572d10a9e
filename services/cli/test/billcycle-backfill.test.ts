/**
 * `ledgerline billcycle backfill [--dry-run]`: the CLI as users run it (services/cli/bin/ledgerline.mjs),
 * through the project's gateway (JWT, checked-in supergraph) to the real subscribers service, and
 * Temporal's time-skipping test server as TEMPORAL_ADDRESS. An open postpaid account opened before
 * the bill-cycle bridge ran gets its `bill-cycle-<account>` workflow; a dry run only says so; a second
 * run starts nothing more; prepaid and closed accounts are not touched. (The pass itself:
 * workflows/test/bill-cycle-backfill.timeskipping.test.ts.)
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubgraphServer } from '@ledgerline/platform';
import { startGateway } from '../../../gateway/src/server';
import { startHarness, type Harness } from '../../subscribers/test/support';
import { createTimeSkippingEnv } from '../../../workflows/test/support/env';
import { cycleStatus } from '../../../workflows/src/bill-cycle-backfill';
import { billCycleWorkflowId } from '../../../workflows/src/domain/bill-cycle';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
let env: TestWorkflowEnvironment;
let h: Harness;
let gateway: SubgraphServer;
const taskQueue = `billcycle-cli-${process.pid}`;

beforeAll(async () => {
  [env, h] = await Promise.all([createTimeSkippingEnv(), startHarness()]);
  gateway = await startGateway({ env: { ...process.env, GATEWAY_PORT: '0', SUBSCRIBERS_URL: h.subscribers.url, LOG_LEVEL: 'warn' } });
}, 60_000);
afterAll(async () => {
  await gateway?.close();
  await h?.close();
  await env?.teardown();
});

function cli(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'services/cli/bin/ledgerline.mjs'), ...args], {
      cwd: root,
      env: { ...process.env, GATEWAY_URL: gateway.url, TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default', TEMPORAL_TASK_QUEUE: taskQueue },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

async function openAccount(paymentMode: 'PREPAID' | 'POSTPAID'): Promise<string> {
  const c = (await h.ok(`mutation { createCustomer(input: { name: "Ben Before", kind: INDIVIDUAL }) { customer { id } } }`, {})).createCustomer.customer.id as string;
  return (await h.ok(`mutation($c: ID!, $m: PaymentMode!) { openBillingAccount(input: { customerId: $c, paymentMode: $m, currency: "EUR" }) { billingAccount { id } } }`, { c, m: paymentMode }))
    .openBillingAccount.billingAccount.id as string;
}

const status = (accountId: string) => cycleStatus(env.client, accountId);

describe('ledgerline billcycle backfill', () => {
  it('starts the cycle of an open postpaid account that has none (a dry run first starts nothing), once; prepaid and closed accounts are left', async () => {
    const A = await openAccount('POSTPAID');
    const P = await openAccount('PREPAID');
    const C = await openAccount('POSTPAID');
    await h.ok(`mutation($i: CloseBillingAccountInput!) { closeBillingAccount(input: $i) { billingAccount { status } } }`, { i: { billingAccountId: C, reason: 'Leaving', idempotencyKey: `close-${C}` } });

    const dry = await cli('billcycle', 'backfill', '--dry-run');
    expect(dry.stderr).toBe('');
    expect(dry.status).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`would start +${A} from 2026-\\S+ \\(day 1, UTC\\)`));
    expect(dry.stdout).toContain('dry run: 1 open postpaid accounts, 1 would be started, 0 skipped, 0 failed');
    expect(await status(A)).toBeNull();

    const run = await cli('billcycle', 'backfill', '--page-size', '1');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`started +${A} from `));
    expect(run.stdout).toContain('1 open postpaid accounts, 1 started, 0 skipped, 0 failed');
    expect(await status(A)).toBe('RUNNING');
    expect((await env.client.workflow.getHandle(billCycleWorkflowId(A)).describe()).taskQueue).toBe(taskQueue);

    const again = await cli('billcycle', 'backfill');
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(`skipped      ${A}: its bill cycle is running`);
    expect(again.stdout).toContain('1 open postpaid accounts, 0 started, 1 skipped, 0 failed');
    const history = await env.client.workflow.getHandle(billCycleWorkflowId(A)).fetchHistory();
    expect(history.events?.filter((e) => e.workflowExecutionStartedEventAttributes)).toHaveLength(1);
    expect(await status(P)).toBeNull();
    expect(await status(C)).toBeNull();
  }, 120_000);
});
