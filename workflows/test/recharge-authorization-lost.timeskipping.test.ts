// An authorization the recharge never learnt of. The provider authorized (a hold on the card), but
// every answer to the authorize was lost (retries exhausted), or the workflow was cancelled while the
// authorize was in flight: the workflow ended with nothing to void, and the hold stayed on the card
// until it expired. Now the workflow voids whatever was authorized under the authorize's key, in a
// scope a cancellation cannot stop (patch `recharge-voids-authorization-by-key`); with no
// authorization under the key, the void closes the key, so an authorize still on its way is refused.
// Runs of the code before the patch replay (fixtures/recharge-before-authorize-void.ts).
import { fileURLToPath } from 'node:url';
import { CancelledFailure, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecharge } from '../src/client';
import type { RechargeInput } from '../src/domain/recharge';
import type { rechargeWorkflow } from '../src/workflows/recharge';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle, type FakeSystems } from './support/env';

let env: TestWorkflowEnvironment;
let current: WorkflowBundle;
beforeAll(async () => {
  [env, current] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
});
afterAll(async () => {
  await env?.teardown();
});

const rechargeInput = (token: string): RechargeInput => ({ rechargeId: uniqueId('rch'), billingAccountId: 'ba-1001', amount: '20.00', currency: 'EUR', paymentMethodToken: token, channel: 'SELF_CARE' });
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One recharge on a fresh worker (the current code, or `bundle`); `meanwhile` runs once it started.
 * Answers how it ended and its history.
 */
async function run(systems: FakeSystems, input: RechargeInput, meanwhile?: (h: WorkflowHandle<typeof rechargeWorkflow>) => Promise<void>, bundle?: WorkflowBundle) {
  const taskQueue = uniqueId('tq');
  const worker = bundle
    ? await startWorker(env.nativeConnection, systems, { taskQueue, overrides: { workflowBundle: bundle } })
    : await startWorker(env.nativeConnection, systems, { taskQueue });
  const handle = await startRecharge(env.client, input, { taskQueue });
  return worker.runUntil(async () => {
    await meanwhile?.(handle);
    const ended = await handle.result().then(
      () => 'COMPLETED',
      (e: unknown) => ((e as { cause?: unknown }).cause instanceof CancelledFailure ? 'CANCELLED' : 'FAILED'),
    );
    return { ended, history: await handle.fetchHistory() };
  });
}

/** Cancels the recharge once the provider has received `calls` authorize calls. */
const cancelAfterAuthorizeCalls = (systems: FakeSystems, calls: number) => async (h: WorkflowHandle<typeof rechargeWorkflow>) => {
  for (let i = 0; i < 400 && systems.payments.calls.authorize < calls; i++) await wait(10);
  expect(systems.payments.calls.authorize).toBe(calls);
  await h.cancel();
};

const authorizeKey = (input: RechargeInput) => `recharge-${input.rechargeId}:authorize`;

describe('recharge: an authorization whose answer never came is voided', () => {
  it('every answer of the authorize lost: the authorization made under its key is voided, the recharge fails as before', async () => {
    const systems = fakeSystems({ payments: { auth_lost_always: { authorize: 'fail-after' } } });
    const input = rechargeInput('auth_lost_always');
    const r = await run(systems, input);

    expect(r.ended).toBe('FAILED');
    expect(systems.payments.calls.authorize).toBe(5); // every try; the key made it one authorization
    const [auth] = systems.payments.effective('authorize');
    expect(systems.payments.effective('authorize')).toHaveLength(1);
    // Before: no void, the card carried the 20.00 hold until it expired.
    expect(systems.payments.effective('void')).toEqual([expect.objectContaining({ authorizationId: auth!.id })]);
    expect(systems.payments.effective('capture')).toEqual([]);
    await Worker.runReplayHistory({ workflowBundle: current }, r.history);
  });

  it('cancelled while the authorize is in flight (the provider authorized, no answer yet): voided, the workflow ends cancelled', async () => {
    const systems = fakeSystems({ payments: { auth_slow: { authorize: 'hang-after' } } });
    const input = rechargeInput('auth_slow');
    const r = await run(systems, input, cancelAfterAuthorizeCalls(systems, 1));

    expect(r.ended).toBe('CANCELLED');
    const [auth] = systems.payments.effective('authorize');
    expect(auth).toBeDefined();
    // Before: the cancellation ended the workflow there, the hold left on the card.
    expect(systems.payments.effective('void')).toEqual([expect.objectContaining({ authorizationId: auth!.id })]);
    await Worker.runReplayHistory({ workflowBundle: current }, r.history);
  });

  it('cancelled before the authorize reached the provider: nothing to void, and an authorize still on its way is refused', async () => {
    const systems = fakeSystems({ payments: { auth_unreached: { authorize: 'hang' } } });
    const input = rechargeInput('auth_unreached');
    const r = await run(systems, input, cancelAfterAuthorizeCalls(systems, 1));

    expect(r.ended).toBe('CANCELLED');
    expect(systems.payments.effective('authorize')).toEqual([]);
    expect(systems.payments.effective('void')).toEqual([]);
    // The request of the cancelled attempt reaching the provider late: its key is closed, no hold is made.
    const late = { paymentMethodToken: 'late_arrival', amount: '20.00', currency: 'EUR', reference: input.rechargeId, idempotencyKey: authorizeKey(input) };
    await expect(systems.payments.authorize(late)).rejects.toMatchObject({ code: 'AUTHORIZATION_KEY_CLOSED' });
    expect(systems.payments.effective('authorize')).toEqual([]);
  });

  it('runs of the code before the patch replay on the current code, as they ran (no void)', async () => {
    const before = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./fixtures/recharge-before-authorize-void.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
    const lost = fakeSystems({ payments: { auth_lost_always: { authorize: 'fail-after' } } });
    const lostRun = await run(lost, rechargeInput('auth_lost_always'), undefined, before);
    expect(lostRun.ended).toBe('FAILED');
    expect(lost.payments.effective('void')).toEqual([]); // the old code left the hold
    await Worker.runReplayHistory({ workflowBundle: current }, lostRun.history);

    const slow = fakeSystems({ payments: { auth_slow: { authorize: 'hang-after' } } });
    const slowRun = await run(slow, rechargeInput('auth_slow'), cancelAfterAuthorizeCalls(slow, 1), before);
    expect(slowRun.ended).toBe('CANCELLED');
    expect(slow.payments.effective('void')).toEqual([]);
    await Worker.runReplayHistory({ workflowBundle: current }, slowRun.history);
  });
});
