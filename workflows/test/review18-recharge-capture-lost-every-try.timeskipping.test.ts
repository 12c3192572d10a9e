// Review 18: a capture that went through on its first attempt but whose answer was lost on every
// one of its 3 attempts. The workflow then "compensates" by voiding the authorization; the provider
// refuses to void a captured authorization. It used to fail there, the card charged with nothing
// credited and nothing refunded; the refusal (AUTHORIZATION_CAPTURED) names the capture, and the
// recharge goes on with it: the wallet is credited with what the card paid.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecharge } from '../src/client';
import type { RechargeInput } from '../src/domain/recharge';
import { createTimeSkippingEnv, fakeSystems, startWorker, uniqueId, workflowBundle, type FakeSystems } from './support/env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
});
afterAll(async () => {
  await env?.teardown();
});

async function runRecharge(systems: FakeSystems, input: RechargeInput) {
  const taskQueue = uniqueId('tq');
  const worker = await startWorker(env.nativeConnection, systems, { taskQueue });
  const handle = await startRecharge(env.client, input, { taskQueue });
  return worker.runUntil(handle.result().then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error })));
}

describe('review18: recharge whose capture answers are all lost', () => {
  it('never leaves the card charged without the wallet credited: a void refused as captured goes on with that capture', async () => {
    const systems = fakeSystems({ payments: { capture_lost_always: { capture: 'fail-after' } } });
    const input: RechargeInput = { rechargeId: uniqueId('rch'), billingAccountId: 'ba-1001', amount: '20.00', currency: 'EUR', paymentMethodToken: 'capture_lost_always', channel: 'SELF_CARE' };
    const outcome = await runRecharge(systems, input);

    expect(systems.payments.effective('capture')).toHaveLength(1); // the card was charged once
    const captured = systems.payments.netCaptured().EUR ?? '0';
    const credited = systems.wallets.credits.length === 1 ? '20' : '0';
    // What the card paid is what the wallet got: the recharge completes with the capture the void found.
    expect({ captured, credited, outcome: outcome.ok }).toEqual({ captured: '20', credited: '20', outcome: true });
    expect(outcome.ok && outcome.value).toMatchObject({ status: 'COMPLETED', captureId: systems.payments.effective('capture')[0]!.id });
    expect(systems.payments.effective('refund')).toHaveLength(0);
  });
});
