// Upsell offer timers on the real Temporal time-skipping test server: 72 hours pass in moments.
// The subscribers service is an in-memory stand-in that records when each step was called.
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { createUpsellActivities, type PresentOfferRequest, type UpsellClient, type UpsellOfferState, type UpsellOfferView } from '../src/activities/upsell';
import { createTimeSkippingEnv, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
});
afterAll(async () => {
  await env?.teardown();
});

const HOUR = 3_600_000;

class FakeSubscribers implements UpsellClient {
  calls: { step: string; at: number }[] = [];
  offer: UpsellOfferView | null = null;
  constructor(private readonly onPresent: UpsellOfferState = 'PRESENTED') {}
  async present(req: PresentOfferRequest) {
    const now = await env.currentTimeMs();
    this.calls.push({ step: 'present', at: now });
    this.offer ??= { offerId: `upo_${req.lineId}`, state: this.onPresent, expiresAt: new Date(now + req.validForHours * HOUR).toISOString(), reason: this.onPresent === 'WITHDRAWN' ? 'already active' : null };
    return this.offer;
  }
  async remind() {
    this.calls.push({ step: 'remind', at: await env.currentTimeMs() });
    return this.offer!;
  }
  async close() {
    const now = await env.currentTimeMs();
    this.calls.push({ step: 'close', at: now });
    if (this.offer!.state === 'PRESENTED' && now >= Date.parse(this.offer!.expiresAt)) this.offer = { ...this.offer!, state: 'EXPIRED' };
    return this.offer!;
  }
}

async function run(fake: FakeSubscribers, whileRunning?: () => void) {
  const taskQueue = uniqueId('tq');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, activities: createUpsellActivities({ upsell: fake }), workflowBundle: await workflowBundle(), shutdownGraceTime: '1 second' });
  const handle = await env.client.workflow.start('upsellOfferWorkflow', { workflowId: uniqueId('upsell'), taskQueue, args: [{ lineId: 'lin_1', offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'offer-data-boost-at-80' }] });
  return worker.runUntil(async () => {
    whileRunning?.();
    return (await handle.result()) as { offerId: string; state: UpsellOfferState };
  });
}

describe('upsellOfferWorkflow (time-skipping server)', () => {
  it('an unanswered offer is reminded 24 h before it ends and closed as EXPIRED after 72 h', async () => {
    const fake = new FakeSubscribers();
    const result = await run(fake);
    expect(result).toEqual({ offerId: 'upo_lin_1', state: 'EXPIRED' });
    expect(fake.calls.map((c) => c.step)).toEqual(['present', 'remind', 'close']);
    const t0 = fake.calls[0]!.at;
    expect(Math.round((fake.calls[1]!.at - t0) / HOUR)).toBe(48);
    expect(Math.round((fake.calls[2]!.at - t0) / HOUR)).toBe(72);
  });

  it('an offer the customer answered ends the workflow at the reminder, without closing it', async () => {
    const fake = new FakeSubscribers();
    const result = await run(fake, () => {
      // The customer accepts in subscribers while the workflow sleeps.
      const accept = setInterval(() => {
        if (fake.offer) {
          fake.offer = { ...fake.offer, state: 'ACCEPTED' };
          clearInterval(accept);
        }
      }, 5);
    });
    expect(result.state).toBe('ACCEPTED');
    expect(fake.calls.map((c) => c.step)).toEqual(['present', 'remind']);
  });

  it('an offer that could not be made (WITHDRAWN) ends at once', async () => {
    const fake = new FakeSubscribers('WITHDRAWN');
    expect((await run(fake)).state).toBe('WITHDRAWN');
    expect(fake.calls.map((c) => c.step)).toEqual(['present']);
  });
});
