// The upsell offer and dispute resolution workflows check their start input first (patches
// `upsell-offer-input-checked`, `dispute-input-checked`), as the bill-run, dunning and order workflows do: a run started
// by hand (or by a bridge that checked only that fields were there) with a field of the wrong type went on with it.
// The upsell offer passed a number as the line id or hours as a string to subscribers (its timers NaN: reminded and
// closed at once); the dispute resolution asked invoicing to assess `undefined`. Now each fails at once, non-retryable
// INVALID_UPSELL_OFFER_INPUT / INVALID_DISPUTE_INPUT naming the fields, before any activity. Runs of the code before
// replay on the current code.
import { fileURLToPath } from 'node:url';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { History } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, DefaultLogger, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDisputeActivities, InMemoryDisputes, type DisputeRef, type DisputesPort } from '../src/activities/disputes';
import { createUpsellActivities, type PresentOfferRequest, type UpsellClient, type UpsellOfferView } from '../src/activities/upsell';
import { DomainError } from '../src/errors';
import { upsellOfferInput } from '../src/offer-bridge';
import { createTimeSkippingEnv, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
});
afterAll(async () => {
  await env?.teardown();
});

/** Subscribers' offers, recording what it is asked; refuses a request it cannot read, as its GraphQL does. */
class Subscribers implements UpsellClient {
  readonly presented: PresentOfferRequest[] = [];
  async present(req: PresentOfferRequest): Promise<UpsellOfferView> {
    this.presented.push(req);
    if (typeof req.lineId !== 'string') throw new DomainError('BAD_USER_INPUT', 'Variable "$i" got invalid value', { retryable: false });
    return { offerId: `upo_${req.lineId}`, state: 'PRESENTED', expiresAt: new Date(Date.now() + 3_600_000).toISOString(), reason: null };
  }
  async remind(): Promise<UpsellOfferView> {
    throw new DomainError('NOT_FOUND', 'no such offer');
  }
  async close(): Promise<UpsellOfferView> {
    throw new DomainError('NOT_FOUND', 'no such offer');
  }
}

/** Invoicing's disputes, recording what it is asked; refuses a dispute it does not know. */
class Disputes implements DisputesPort {
  readonly store = new InMemoryDisputes();
  readonly asked: unknown[] = [];
  async assess(req: DisputeRef) {
    this.asked.push(req.disputeId);
    if (typeof req.disputeId !== 'string') throw new DomainError('NOT_FOUND', `No dispute ${String(req.disputeId)}`);
    return this.store.assess(req);
  }
  state(req: DisputeRef) {
    return this.store.state(req);
  }
  escalate(req: Parameters<DisputesPort['escalate']>[0]) {
    return this.store.escalate(req);
  }
  decide(req: Parameters<DisputesPort['decide']>[0]) {
    return this.store.decide(req);
  }
}

/** Starts `type` with `input` on `bundle` and waits (5 s at most) for how it ends: its failure, 'COMPLETED' or 'still running'. */
async function start(type: string, input: unknown, bundle: WorkflowBundle, activities: object) {
  const taskQueue = uniqueId('tq');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, activities, workflowBundle: bundle, shutdownGraceTime: '1 second' });
  return worker.runUntil(async () => {
    const handle = await env.client.workflow.start(type, { workflowId: uniqueId(type), taskQueue, args: [input] });
    const ended = await Promise.race([
      handle.result().then(
        () => 'COMPLETED' as const,
        (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : err),
      ),
      new Promise<string>((r) => setTimeout(() => r('still running'), 5_000)),
    ]);
    return { ended, history: (await handle.fetchHistory()) as History };
  });
}

const TRIGGER = { lineId: 'lin_1', offerCode: 'DATA_BOOST_5GB', period: '2026-11', rule: 'offer-data-boost-at-80' };

describe('upsellOfferWorkflow start input', () => {
  it.each([
    ['a number as the line id', { ...TRIGGER, lineId: 42 }, ['lineId']],
    ['no rule, hours as strings', { ...TRIGGER, rule: undefined, validForHours: '72', remindBeforeHours: '24' }, ['rule', 'validForHours', 'remindBeforeHours']],
    ['a period bound that is no instant, an empty add-on', { ...TRIGGER, offerCode: '', periodEnd: 'next month' }, ['offerCode', 'periodEnd']],
  ])('%s: INVALID_UPSELL_OFFER_INPUT at once, naming the fields; subscribers not asked', async (_name, input, fields) => {
    const subscribers = new Subscribers();
    const { ended, history } = await start('upsellOfferWorkflow', input, await workflowBundle(), createUpsellActivities({ upsell: subscribers }));
    expect(ended).toBeInstanceOf(ApplicationFailure);
    expect(ended).toMatchObject({ type: 'INVALID_UPSELL_OFFER_INPUT', nonRetryable: true });
    for (const field of fields) expect((ended as ApplicationFailure).message).toContain(field);
    expect((ended as ApplicationFailure).details?.[0]).toMatchObject({ problems: expect.any(Array) });
    expect(subscribers.presented).toEqual([]);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  });

  it("the bridge refuses an event whose fields have the wrong type (it checked only that they were there)", () => {
    expect(() => upsellOfferInput({ ...TRIGGER, lineId: 42 })).toThrow(/lineId/);
    expect(() => upsellOfferInput({ ...TRIGGER, rule: 7 })).toThrow(/rule/);
    expect(upsellOfferInput(TRIGGER, 48)).toEqual({ ...TRIGGER, validForHours: 48 });
  });

  it('a run of the code before the check replays on the current code, as it ran (subscribers asked)', async () => {
    const old = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./fixtures/upsell-offer-before-input-checked.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
    const subscribers = new Subscribers();
    const { ended, history } = await start('upsellOfferWorkflow', { ...TRIGGER, lineId: 42 }, old, createUpsellActivities({ upsell: subscribers }));
    expect(subscribers.presented).toHaveLength(1);
    expect(ended).not.toBe('still running');
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  });
});

describe('disputeResolutionWorkflow start input', () => {
  it.each([
    ['no disputeId', {}],
    ['a number as the disputeId', { disputeId: 7 }],
    ['an empty disputeId', { disputeId: '  ' }],
  ])('%s: INVALID_DISPUTE_INPUT at once, naming the field; invoicing not asked', async (_name, input) => {
    const disputes = new Disputes();
    const { ended, history } = await start('disputeResolutionWorkflow', input, await workflowBundle(), createDisputeActivities({ disputes }, { callTimeoutMs: 5_000 }));
    expect(ended).toBeInstanceOf(ApplicationFailure);
    expect(ended).toMatchObject({ type: 'INVALID_DISPUTE_INPUT', nonRetryable: true });
    expect((ended as ApplicationFailure).message).toContain('disputeId');
    expect(disputes.asked).toEqual([]);
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  });

  it('a run of the code before the check replays on the current code, as it ran (invoicing asked)', async () => {
    const old = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./fixtures/dispute-resolution-before-input-checked.ts', import.meta.url)), logger: new DefaultLogger('WARN') });
    const disputes = new Disputes();
    const { ended, history } = await start('disputeResolutionWorkflow', {}, old, createDisputeActivities({ disputes }, { callTimeoutMs: 5_000 }));
    expect(disputes.asked).toEqual([undefined]);
    expect(ended).not.toBe('still running');
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history);
  });
});
