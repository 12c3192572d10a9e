// Recharge saga against the real Temporal time-skipping test server. The payment provider,
// wallets and receipts are in-memory stand-ins (they are the external systems); the workflow,
// its retries, timeouts and compensations run in Temporal for real. Retry back-offs pass in
// skipped time; a hung provider call is cut by the activity's call timeout (300 ms here), in real
// time, because the test server does not skip time while an activity is running.
import { fileURLToPath } from 'node:url';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecharge } from '../src/client';
import { rechargeStatusQuery } from '../src/workflows';
import type { RechargeInput } from '../src/domain/recharge';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle, type FakeSystems } from './support/env';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
});

afterAll(async () => {
  await env?.teardown();
});

function rechargeInput(token: string, overrides: Partial<RechargeInput> = {}): RechargeInput {
  return { rechargeId: uniqueId('rch'), billingAccountId: 'ba-1001', amount: '20.00', currency: 'EUR', paymentMethodToken: token, channel: 'SELF_CARE', ...overrides };
}

/** Runs one recharge on a fresh worker; returns the result or the failure. */
async function runRecharge(systems: FakeSystems, input: RechargeInput) {
  const taskQueue = uniqueId('tq');
  const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
  const handle = await startRecharge(env.client, input, { taskQueue });
  return worker.runUntil(handle.result().then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })));
}

/** The ApplicationFailure a failed workflow ended with. */
function workflowFailure(outcome: { ok: false; error: unknown } | { ok: true }): ApplicationFailure {
  expect(outcome.ok).toBe(false);
  const { error } = outcome as { error: unknown };
  expect(error).toBeInstanceOf(WorkflowFailedError);
  const cause = (error as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

describe('rechargeWorkflow (time-skipping server)', () => {
  it('approve: captures once, credits the wallet once with the exact amount, issues a receipt', async () => {
    const systems = fakeSystems();
    const input = rechargeInput('sandbox_approve', { amount: '20.0050' });
    const outcome = await runRecharge(systems, input);

    expect(outcome).toMatchObject({ ok: true, value: { rechargeId: input.rechargeId, status: 'COMPLETED', amount: '20.0050', currency: 'EUR' } });
    expect(systems.payments.effective('capture')).toHaveLength(1);
    expect(systems.wallets.credits).toEqual([
      expect.objectContaining({ billingAccountId: 'ba-1001', amount: '20.0050', currency: 'EUR', reference: input.rechargeId, idempotencyKey: `recharge-${input.rechargeId}:creditWallet` }),
    ]);
    expect(systems.wallets.balance('ba-1001', 'EUR')).toBe('20.005');
    expect(systems.receipts.receipts).toHaveLength(1);
    expect(systems.payments.operations.map((o) => o.idempotencyKey)).toEqual([`recharge-${input.rechargeId}:authorize`, `recharge-${input.rechargeId}:capture`]);
  });

  it('decline: fails with PAYMENT_DECLINED, nothing captured, nothing credited, no retry of the decline', async () => {
    const systems = fakeSystems();
    const failure = workflowFailure(await runRecharge(systems, rechargeInput('sandbox_decline')));

    expect(failure.type).toBe('PAYMENT_DECLINED');
    expect(failure.nonRetryable).toBe(true);
    expect(systems.payments.calls.authorize).toBe(1);
    expect(systems.payments.calls.capture).toBe(0);
    expect(systems.wallets.calls).toBe(0);
  });

  it('capture times out once: retried with the same key, then completes with one capture', async () => {
    const systems = fakeSystems();
    const outcome = await runRecharge(systems, rechargeInput('sandbox_timeout_once'));

    expect(outcome.ok).toBe(true);
    expect(systems.payments.calls.capture).toBe(2);
    expect(systems.payments.effective('capture')).toHaveLength(1);
    expect(systems.wallets.credits).toHaveLength(1);
  });

  it('capture keeps timing out: retried 3 times, then the authorization is voided and nothing is charged', async () => {
    const systems = fakeSystems();
    const failure = workflowFailure(await runRecharge(systems, rechargeInput('sandbox_timeout')));

    expect(failure.type).toBe('PAYMENT_CAPTURE_FAILED');
    expect(failure.details?.[0]).toMatchObject({ cause: 'PAYMENT_PROVIDER_TIMEOUT' });
    expect(systems.payments.calls.capture).toBe(3);
    expect(systems.payments.effective('capture')).toHaveLength(0);
    expect(systems.payments.effective('void')).toHaveLength(1);
    expect(systems.payments.netCaptured()).toEqual({});
    expect(systems.wallets.calls).toBe(0);
  });

  it('capture succeeds but its answer is lost: the retry returns the same capture, money is taken once', async () => {
    const systems = fakeSystems();
    const outcome = await runRecharge(systems, rechargeInput('sandbox_fail_after_capture'));

    expect(outcome.ok).toBe(true);
    expect(systems.payments.calls.capture).toBe(2);
    expect(systems.payments.effective('capture')).toHaveLength(1);
    expect(systems.payments.netCaptured()).toEqual({ EUR: '20' });
    expect(systems.wallets.credits).toHaveLength(1);
  });

  it('wallet credit refused for good after capture: the credit key is closed, then the payment is refunded, no money lost', async () => {
    const systems = fakeSystems({ wallets: { script: ['reject'], rejectCode: 'WALLET_ACCOUNT_CLOSED' } });
    const input = rechargeInput('sandbox_approve');
    const failure = workflowFailure(await runRecharge(systems, input));

    expect(failure.type).toBe('WALLET_CREDIT_FAILED');
    expect(failure.details?.[0]).toMatchObject({ cause: 'WALLET_ACCOUNT_CLOSED' });
    expect(systems.wallets.calls).toBe(1); // a decision is not retried
    expect(systems.wallets.closeCalls).toBe(1);
    expect(systems.payments.effective('refund')).toEqual([expect.objectContaining({ amount: '20.00', currency: 'EUR' })]);
    expect(systems.payments.netCaptured()).toEqual({ EUR: '0' });
    expect(systems.wallets.credits).toHaveLength(0);
    // The key is closed before the refund: a credit under it arriving late (an earlier request still on its way) is refused.
    expect(systems.wallets.closedKeys).toEqual(new Set([`recharge-${input.rechargeId}:creditWallet`]));
  });

  it('wallet credit refused, then the provider refuses the refund for good: ends RECHARGE_REFUND_FAILED (money taken, not given back), not as a failure that took nothing', async () => {
    // A card closed since, or the refund window passed: the provider's final answer to the refund.
    const systems = fakeSystems({ payments: { tok_refund_refused: { refund: 'decline' } }, wallets: { script: ['reject'], rejectCode: 'WALLET_ACCOUNT_CLOSED' } });
    const input = rechargeInput('tok_refund_refused');
    const failure = workflowFailure(await runRecharge(systems, input));

    expect(failure.type).toBe('RECHARGE_REFUND_FAILED');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.details?.[0]).toMatchObject({ rechargeId: input.rechargeId, captureId: expect.any(String), amount: '20.00', currency: 'EUR', cause: 'WALLET_ACCOUNT_CLOSED', refundFailure: 'PAYMENT_REFUND_REJECTED' });
    expect(systems.payments.calls.refund).toBe(1); // a final answer is not asked again
    expect(systems.payments.effective('refund')).toHaveLength(0);
    expect(systems.payments.netCaptured()).toEqual({ EUR: '20' });
    expect(systems.wallets.credits).toHaveLength(0);
  });

  it('a run of the code before RECHARGE_REFUND_FAILED whose refund was refused replays on the current code', async () => {
    const before = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./fixtures/recharge-before-refund-refused.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
    const systems = fakeSystems({ payments: { tok_refund_refused: { refund: 'decline' } }, wallets: { script: ['reject'], rejectCode: 'WALLET_ACCOUNT_CLOSED' } });
    const taskQueue = uniqueId('tq');
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue, overrides: { workflowBundle: before } });
    const handle = await startRecharge(env.client, rechargeInput('tok_refund_refused'), { taskQueue });
    const history = await worker.runUntil(async () => {
      // The old code ended with the refund's own failure, which wallets recorded FAILED (no money taken).
      await expect(handle.result()).rejects.toMatchObject({ cause: { name: 'ActivityFailure' } });
      return handle.fetchHistory();
    });
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  });

  it('cancelled while the credit is retried after capture: the key is closed and the card refunded, never left charged and uncredited', async () => {
    const systems = fakeSystems({ wallets: { script: Array.from({ length: 40 }, () => 'fail' as const) } });
    const input = rechargeInput('sandbox_approve');
    const taskQueue = uniqueId('tq');
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
    const handle = await startRecharge(env.client, input, { taskQueue });
    const outcome = await worker.runUntil(async () => {
      // Cancelled (an operator, or a client giving up) while wallets does not answer.
      while (!((await handle.query(rechargeStatusQuery)).step === 'creditWallet' && systems.wallets.calls >= 2)) await new Promise((r) => setTimeout(r, 20));
      await handle.cancel();
      return handle.result().then(() => 'completed', () => 'ended');
    });

    expect(outcome).toBe('ended');
    expect(systems.wallets.credits).toHaveLength(0);
    expect(systems.wallets.closeCalls).toBe(1);
    expect(systems.payments.effective('refund')).toEqual([expect.objectContaining({ amount: '20.00', currency: 'EUR' })]);
    expect(systems.payments.netCaptured()).toEqual({ EUR: '0' });
  });

  it('wallet unavailable for minutes after capture: the credit is retried until wallets answers, credited once, never refunded', async () => {
    // 9 failures: back-offs of 1, 2, 4, 8, 16, 32, 60, 60, 60 s (skipped time), well past the old 5 tries.
    const systems = fakeSystems({ wallets: { script: ['fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'fail', 'ok'] } });
    const outcome = await runRecharge(systems, rechargeInput('sandbox_approve'));

    expect(outcome).toMatchObject({ ok: true, value: { status: 'COMPLETED' } });
    expect(systems.wallets.calls).toBe(10);
    expect(systems.wallets.credits).toHaveLength(1);
    expect(systems.wallets.closeCalls).toBe(0);
    expect(systems.payments.effective('refund')).toHaveLength(0);
    expect(systems.payments.netCaptured()).toEqual({ EUR: '20' });
  });

  it('the credit commits but its answers are lost for minutes: retried until one arrives, the same credit, never refunded', async () => {
    const systems = fakeSystems({ wallets: { script: ['apply-then-fail', 'apply-then-fail', 'apply-then-fail', 'apply-then-fail', 'apply-then-fail', 'apply-then-fail', 'apply-then-hang', 'ok'] } });
    const outcome = await runRecharge(systems, rechargeInput('sandbox_approve'));

    expect(outcome).toMatchObject({ ok: true, value: { status: 'COMPLETED', walletTransactionId: 'wtx_1' } });
    expect(systems.wallets.calls).toBe(8);
    expect(systems.wallets.credits).toHaveLength(1);
    expect(systems.wallets.balance('ba-1001', 'EUR')).toBe('20');
    expect(systems.payments.effective('refund')).toHaveLength(0);
    expect(systems.payments.netCaptured()).toEqual({ EUR: '20' });
  });

  it('an earlier try committed (answer lost), then wallets refuses: the key\'s close answers that credit, the recharge stands, no refund', async () => {
    const systems = fakeSystems({ wallets: { script: ['apply-then-fail', 'reject'], rejectCode: 'WALLET_ACCOUNT_CLOSED' } });
    const outcome = await runRecharge(systems, rechargeInput('sandbox_approve'));

    expect(outcome).toMatchObject({ ok: true, value: { status: 'COMPLETED', walletTransactionId: 'wtx_1', receiptId: expect.any(String) } });
    expect(systems.wallets.calls).toBe(2);
    expect(systems.wallets.closeCalls).toBe(1);
    expect(systems.wallets.credits).toHaveLength(1);
    expect(systems.wallets.closedKeys.size).toBe(0);
    expect(systems.payments.effective('refund')).toHaveLength(0);
    expect(systems.payments.netCaptured()).toEqual({ EUR: '20' });
  });

  it('starting the same recharge twice (while running and after completion) is one recharge', async () => {
    const systems = fakeSystems();
    const taskQueue = uniqueId('tq');
    const input = rechargeInput('sandbox_approve');
    const worker = await startWorker(env.nativeConnection, systems, { taskQueue });

    await worker.runUntil(async () => {
      const [first, second] = await Promise.all([startRecharge(env.client, input, { taskQueue }), startRecharge(env.client, input, { taskQueue })]);
      expect((await second.describe()).runId).toBe((await first.describe()).runId);
      // A plain start with the same workflow id is refused while it runs.
      await expect(env.client.workflow.start('rechargeWorkflow', { workflowId: first.workflowId, taskQueue, args: [input] })).rejects.toBeInstanceOf(
        WorkflowExecutionAlreadyStartedError,
      );
      const result = await first.result();
      const again = await startRecharge(env.client, input, { taskQueue });
      expect(await again.result()).toEqual(result);
    });

    expect(systems.payments.calls.authorize).toBe(1);
    expect(systems.payments.effective('capture')).toHaveLength(1);
    expect(systems.wallets.credits).toHaveLength(1);
    expect(systems.receipts.receipts).toHaveLength(1);
  });

  it('rejects a bad input with a message naming the field, before any payment', async () => {
    const systems = fakeSystems();
    const failure = workflowFailure(await runRecharge(systems, rechargeInput('sandbox_approve', { amount: '-5', currency: 'euro' })));

    expect(failure.type).toBe('INVALID_RECHARGE_INPUT');
    expect(failure.message).toMatch(/amount must be a positive decimal string/);
    expect(failure.message).toMatch(/currency must be an ISO 4217 code/);
    expect(systems.payments.calls.authorize).toBe(0);
  });
});
