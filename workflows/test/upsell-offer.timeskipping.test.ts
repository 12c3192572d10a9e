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
  requests: PresentOfferRequest[] = [];
  offer: UpsellOfferView | null = null;
  constructor(
    private readonly onPresent: UpsellOfferState = 'PRESENTED',
    /** Presents that fail first, as while subscribers is down. */
    private outage = 0,
  ) {}
  /** As subscribers does: an offer ends with its allowance period (the request's periodEnd) when that comes before its deadline. */
  private endsAt(req: PresentOfferRequest, now: number): number {
    const deadline = now + req.validForHours * HOUR;
    const periodEnd = req.periodEnd ? Date.parse(req.periodEnd) : Infinity;
    return periodEnd > now && periodEnd < deadline ? periodEnd : deadline;
  }
  async present(req: PresentOfferRequest) {
    const now = await env.currentTimeMs();
    this.calls.push({ step: 'present', at: now });
    this.requests.push(req);
    if (this.outage-- > 0) throw new Error('subscribers unavailable');
    this.offer ??= { offerId: `upo_${req.lineId}`, state: this.onPresent, expiresAt: new Date(this.endsAt(req, now)).toISOString(), reason: this.onPresent === 'WITHDRAWN' ? 'already active' : null };
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

const TRIGGER = { lineId: 'lin_1', offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'offer-data-boost-at-80' };

async function run(fake: FakeSubscribers, whileRunning?: () => void, input: Record<string, unknown> = TRIGGER) {
  const taskQueue = uniqueId('tq');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, activities: createUpsellActivities({ upsell: fake }), workflowBundle: await workflowBundle(), shutdownGraceTime: '1 second' });
  const handle = await env.client.workflow.start('upsellOfferWorkflow', { workflowId: uniqueId('upsell'), taskQueue, args: [input] });
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

  it('an offer the customer declined ends the workflow at the reminder, without closing it', async () => {
    const fake = new FakeSubscribers();
    const result = await run(fake, () => {
      // The customer declines in subscribers while the workflow sleeps.
      const decline = setInterval(() => {
        if (fake.offer) {
          fake.offer = { ...fake.offer, state: 'DECLINED' };
          clearInterval(decline);
        }
      }, 5);
    });
    expect(result.state).toBe('DECLINED');
    expect(fake.calls.map((c) => c.step)).toEqual(['present', 'remind']);
  });

  it('an accepted offer is settled at its expiry: a conversion only if its order did not fail (review 18)', async () => {
    // Before, ACCEPTED ended the workflow at the reminder, so an offer whose add-on order failed
    // after that (subscribers: ACCEPTED → FAILED) was reported as ACCEPTED, a conversion.
    const fake = new FakeSubscribers();
    const result = await run(fake, () => {
      const answer = setInterval(() => {
        if (!fake.offer) return;
        if (fake.offer.state === 'PRESENTED') fake.offer = { ...fake.offer, state: 'ACCEPTED' };
        else if (fake.calls.some((c) => c.step === 'remind')) {
          // The add-on order fails after the reminder (the balance no longer covers it).
          fake.offer = { ...fake.offer, state: 'FAILED', reason: 'Order ord_1 failed: ADDON_PAYMENT_DENIED' };
          clearInterval(answer);
        }
      }, 5);
    });
    expect(result).toEqual({ offerId: 'upo_lin_1', state: 'FAILED' });
    expect(fake.calls.map((c) => c.step)).toEqual(['present', 'remind', 'close']);
    expect(Math.round((fake.calls[2]!.at - fake.calls[0]!.at) / HOUR)).toBe(72);
  });

  it('an accepted offer whose order went through is ACCEPTED at its expiry', async () => {
    const fake = new FakeSubscribers();
    const result = await run(fake, () => {
      const accept = setInterval(() => {
        if (fake.offer) {
          fake.offer = { ...fake.offer, state: 'ACCEPTED' };
          clearInterval(accept);
        }
      }, 5);
    });
    expect(result.state).toBe('ACCEPTED');
    expect(fake.calls.map((c) => c.step)).toEqual(['present', 'remind', 'close']);
  });

  it('an offer that could not be made (WITHDRAWN) ends at once', async () => {
    const fake = new FakeSubscribers('WITHDRAWN');
    expect((await run(fake)).state).toBe('WITHDRAWN');
    expect(fake.calls.map((c) => c.step)).toEqual(['present']);
  });

  it('an outage of subscribers of hours at the trigger delays the offer, it does not lose it', async () => {
    const fake = new FakeSubscribers('PRESENTED', 30);
    const result = await run(fake);
    const presents = fake.calls.filter((c) => c.step === 'present');
    expect({ result, presents: presents.length, steps: fake.calls.filter((c) => c.step !== 'present').map((c) => c.step) }).toEqual({ result: { offerId: 'upo_lin_1', state: 'EXPIRED' }, presents: 31, steps: ['remind', 'close'] });
    expect((presents[30]!.at - presents[0]!.at) / HOUR).toBeGreaterThan(1);
  });

  it("hands the trigger's allowance period bounds to presenting (subscribers withdraws an offer whose period is over); a run started without them presents as before", async () => {
    const bounds = { periodStart: '2026-11-01T00:00:00.000Z', periodEnd: '2026-12-01T00:00:00.000Z' };
    const withBounds = new FakeSubscribers('WITHDRAWN');
    await run(withBounds, undefined, { ...TRIGGER, ...bounds });
    expect(withBounds.requests).toEqual([{ lineId: 'lin_1', offerCode: 'DATA_BOOST_5GB', period: '2026-11', ...bounds, rule: 'offer-data-boost-at-80', validForHours: 72 }]);
    const without = new FakeSubscribers('WITHDRAWN');
    await run(without);
    expect(without.requests).toEqual([{ lineId: 'lin_1', offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'offer-data-boost-at-80', validForHours: 72 }]);
  });

  it("an offer ending with its allowance period (subscribers' expiresAt, before the 72 h) is reminded and closed by that end, not by validForHours", async () => {
    // The workflow's timers follow the offer's expiresAt: it was reminded and closed by the deadline alone,
    // a day or more after the period the offer was for had ended.
    const stamp = async (hours: number) => new Date((await env.currentTimeMs()) + hours * HOUR).toISOString();
    const soon = new FakeSubscribers();
    const soonResult = await run(soon, undefined, { ...TRIGGER, periodStart: '2026-11-01T00:00:00.000Z', periodEnd: await stamp(30) });
    const t0 = soon.calls[0]!.at;
    expect({ result: soonResult.state, steps: soon.calls.map((c) => [c.step, Math.round((c.at - t0) / HOUR)]) }).toEqual({ result: 'EXPIRED', steps: [['present', 0], ['remind', 6], ['close', 30]] });
    // Less than a day left: no reminder, closed at the period's end.
    const last = new FakeSubscribers();
    await run(last, undefined, { ...TRIGGER, periodStart: '2026-11-01T00:00:00.000Z', periodEnd: await stamp(10) });
    const t1 = last.calls[0]!.at;
    expect(last.calls.map((c) => [c.step, Math.round((c.at - t1) / HOUR)])).toEqual([['present', 0], ['close', 10]]);
  });
});
