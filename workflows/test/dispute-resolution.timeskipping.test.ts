// Dispute resolution timers on the real Temporal time-skipping test server: days of SLA pass in
// moments. Invoicing is the in-memory dispute store that follows the contract
// (notes/dispute-contract.md), wrapped to record which call came when (in Temporal's time).
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDisputeActivities, InMemoryDisputes, type DecideDisputeRequest, type DisputeRef, type DisputesPort, type EscalateDisputeRequest } from '../src/activities/disputes';
import { FINAL_BREACH_NOTE, disputeResolutionWorkflowId, type DisputePolicy, type DisputeResolutionStatus } from '../src/domain/dispute-resolution';
import { disputeDecidedSignal, disputeStatusQuery, type disputeResolutionWorkflow } from '../src/workflows/dispute-resolution';
import { createTimeSkippingEnv, uniqueId, workflowBundle } from './support/env';

let env: TestWorkflowEnvironment;
beforeAll(async () => {
  [env] = await Promise.all([createTimeSkippingEnv(), workflowBundle()]);
});
afterAll(async () => {
  await env?.teardown();
});

const HOUR = 3_600_000;

/** The contract's dispute store, recording each call of the workflow with Temporal's time. */
class RecordingDisputes implements DisputesPort {
  readonly store = new InMemoryDisputes();
  readonly calls: { op: string; at: number; level?: number }[] = [];
  /** Runs as the workflow's decision arrives, before the store sees it (an agent deciding in the same instant). */
  beforeDecide?: () => void;

  private async record(op: string, level?: number) {
    this.calls.push({ op, at: await env.currentTimeMs(), ...(level === undefined ? {} : { level }) });
  }
  async assess(req: DisputeRef) {
    await this.record('assess');
    return this.store.assess(req);
  }
  async state(req: DisputeRef) {
    await this.record('state');
    return this.store.state(req);
  }
  async escalate(req: EscalateDisputeRequest) {
    await this.record('escalate', req.level);
    return this.store.escalate(req);
  }
  async decide(req: DecideDisputeRequest) {
    await this.record('decide');
    this.beforeDecide?.();
    return this.store.decide(req);
  }

  ops(): string[] {
    return this.calls.map((c) => c.op);
  }
  /** Hours from the assessment to the n-th call of `op` (1-based). */
  hoursAfterAssess(op: string, n = 1): number {
    const t0 = this.calls.find((c) => c.op === 'assess')!.at;
    return Math.round((this.calls.filter((c) => c.op === op)[n - 1]!.at - t0) / HOUR);
  }
  /** Resolves once `op` has been called n times (in real time; the caller skips Temporal's). */
  async whenCalled(op: string, n = 1): Promise<void> {
    const until = Date.now() + 30_000;
    while (this.calls.filter((c) => c.op === op).length < n) {
      if (Date.now() > until) throw new Error(`${op} was not called ${n} time(s); calls: ${this.ops().join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

type Handle = WorkflowHandle<typeof disputeResolutionWorkflow>;

/** Starts the workflow for a new dispute and runs a worker while `body` drives it. */
async function run<T>(disputes: RecordingDisputes, opts: { autoAcceptRule?: string; policy?: DisputePolicy }, body: (handle: Handle, disputeId: string) => Promise<T>): Promise<T> {
  const disputeId = uniqueId('dsp');
  disputes.store.open(disputeId, { autoAcceptRule: opts.autoAcceptRule });
  const taskQueue = uniqueId('tq');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    activities: createDisputeActivities({ disputes }, { callTimeoutMs: 5_000 }),
    workflowBundle: await workflowBundle(),
    shutdownGraceTime: '1 second',
  });
  const handle = await env.client.workflow.start<typeof disputeResolutionWorkflow>('disputeResolutionWorkflow', {
    workflowId: disputeResolutionWorkflowId(disputeId),
    taskQueue,
    args: [{ disputeId, ...(opts.policy ? { policy: opts.policy } : {}) }],
  });
  return worker.runUntil(body(handle, disputeId));
}

/** Asks the query until it answers what `ok` wants (the workflow may still be between two steps). */
async function queryUntil(handle: Handle, ok: (s: DisputeResolutionStatus) => boolean): Promise<DisputeResolutionStatus> {
  const until = Date.now() + 30_000;
  for (;;) {
    const s = await handle.query(disputeStatusQuery);
    if (ok(s) || Date.now() > until) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('disputeResolutionWorkflow (time-skipping server)', () => {
  it('a dispute a rule accepts at assessment ends at once, without waiting', async () => {
    const disputes = new RecordingDisputes();
    const { result, ran } = await run(disputes, { autoAcceptRule: 'roaming-overcharge-small' }, async (h) => {
      const result = await h.result();
      // Temporal's time from start to close (the server's clock skips on after the run ends).
      const { startTime, closeTime } = await h.describe();
      return { result, ran: closeTime!.getTime() - startTime.getTime() };
    });
    expect(result).toEqual({ phase: 'DONE', escalationLevel: 0, outcome: 'ACCEPTED' });
    expect(disputes.ops()).toEqual(['assess']);
    expect(ran).toBeLessThan(HOUR);
  });

  it('a restarted run keeps the deadline the dispute shows (reviewDueAt), not a whole SLA from its own start', async () => {
    // As invoicing answers a dispute already in review: its deadline is 5 h away, not 48 h.
    class AlreadyInReview extends RecordingDisputes {
      override async assess(req: DisputeRef) {
        const s = await super.assess(req);
        return { ...s, reviewDueAt: new Date((await env.currentTimeMs()) + 5 * HOUR).toISOString() };
      }
    }
    const disputes = new AlreadyInReview();
    await run(disputes, {}, async (handle) => {
      await disputes.whenCalled('assess');
      await env.sleep(6 * HOUR);
      await disputes.whenCalled('escalate');
      await handle.terminate('test done');
    });
    expect(disputes.hoursAfterAssess('escalate')).toBe(5);
  });

  it('an agent who decides within the review SLA ends it at the signal, with no escalation', async () => {
    const disputes = new RecordingDisputes();
    const result = await run(disputes, {}, async (handle, disputeId) => {
      await disputes.whenCalled('assess');
      await env.sleep(10 * HOUR);
      disputes.store.close(disputeId, 'REJECT', 'agent:ann', 'charge was correct');
      await handle.signal(disputeDecidedSignal);
      return handle.result();
    });
    expect(result).toEqual({ phase: 'DONE', escalationLevel: 0, outcome: 'REJECTED' });
    expect(disputes.ops()).toEqual(['assess', 'state']);
    expect(disputes.hoursAfterAssess('state')).toBe(10);
  });

  it('nobody decides: escalated to level 1 at 48 h, level 2 at 72 h, accepted for the customer at 96 h (one decision)', async () => {
    const disputes = new RecordingDisputes();
    let id = '';
    const result = await run(disputes, {}, async (handle, disputeId) => {
      id = disputeId;
      return handle.result();
    });
    expect(result).toEqual({ phase: 'DONE', escalationLevel: 2, outcome: 'ACCEPTED' });
    expect(disputes.ops()).toEqual(['assess', 'escalate', 'escalate', 'decide']);
    expect(disputes.calls.filter((c) => c.op === 'escalate').map((c) => c.level)).toEqual([1, 2]);
    expect([disputes.hoursAfterAssess('escalate', 1), disputes.hoursAfterAssess('escalate', 2), disputes.hoursAfterAssess('decide')]).toEqual([48, 72, 96]);
    expect(disputes.store.get(id)).toMatchObject({ status: 'ACCEPTED', decision: 'ACCEPT', decidedBy: 'SYSTEM', note: FINAL_BREACH_NOTE });
  });

  it('a signal while the dispute is still open does not restart the SLA: the escalation comes at the original deadline', async () => {
    const disputes = new RecordingDisputes();
    const result = await run(disputes, {}, async (handle) => {
      await disputes.whenCalled('assess');
      await env.sleep(30 * HOUR);
      await handle.signal(disputeDecidedSignal); // e.g. an agent added a note; nothing decided
      await disputes.whenCalled('state');
      return handle.result();
    });
    expect(result.outcome).toBe('ACCEPTED');
    expect(disputes.ops()).toEqual(['assess', 'state', 'escalate', 'escalate', 'decide']);
    expect(disputes.hoursAfterAssess('state')).toBe(30);
    expect(disputes.hoursAfterAssess('escalate', 1)).toBe(48); // not 30 + 48
    expect(disputes.hoursAfterAssess('decide')).toBe(96);
  });

  it('onFinalBreach WAIT keeps waiting past the last level; a later decision ends it', async () => {
    const disputes = new RecordingDisputes();
    const policy: DisputePolicy = { reviewSlaHours: 48, escalationSlaHours: 24, escalationLevels: 2, onFinalBreach: 'WAIT' };
    const result = await run(disputes, { policy }, async (handle, disputeId) => {
      await disputes.whenCalled('assess');
      await env.sleep(10 * 24 * HOUR); // ten days: far past the last level's SLA (96 h)
      expect((await handle.describe()).status.name).toBe('RUNNING');
      expect(await queryUntil(handle, (s) => s.escalationLevel === 2)).toEqual({ phase: 'IN_REVIEW', escalationLevel: 2, outcome: null });
      disputes.store.close(disputeId, 'ACCEPT', 'agent:bo', 'partly upheld');
      await handle.signal(disputeDecidedSignal);
      return handle.result();
    });
    expect(result).toEqual({ phase: 'DONE', escalationLevel: 2, outcome: 'ACCEPTED' });
    expect(disputes.ops()).not.toContain('decide');
    expect(disputes.calls.filter((c) => c.op === 'escalate').map((c) => c.level)).toEqual([1, 2]);
  });

  it('the final decision losing the race to an agent (already decided) is no failure: it ends with the agent\'s decision', async () => {
    const disputes = new RecordingDisputes();
    let id = '';
    disputes.beforeDecide = () => disputes.store.close(id, 'REJECT', 'agent:cy', 'decided just in time');
    const result = await run(disputes, {}, async (handle, disputeId) => {
      id = disputeId;
      return handle.result();
    });
    expect(result).toEqual({ phase: 'DONE', escalationLevel: 2, outcome: 'REJECTED' });
    expect(disputes.ops().filter((op) => op === 'decide')).toHaveLength(1);
    expect(disputes.store.get(id)).toMatchObject({ status: 'REJECTED', decidedBy: 'agent:cy' });
  });

  it('the query reports the phase and the escalation level', async () => {
    const disputes = new RecordingDisputes();
    await run(disputes, {}, async (handle, disputeId) => {
      await disputes.whenCalled('assess');
      expect(await queryUntil(handle, (s) => s.phase === 'IN_REVIEW')).toEqual({ phase: 'IN_REVIEW', escalationLevel: 0, outcome: null });
      await env.sleep(49 * HOUR);
      await disputes.whenCalled('escalate');
      expect(await queryUntil(handle, (s) => s.escalationLevel === 1)).toEqual({ phase: 'IN_REVIEW', escalationLevel: 1, outcome: null });
      disputes.store.close(disputeId, 'WITHDRAW', 'customer');
      await handle.signal(disputeDecidedSignal);
      await handle.result();
      expect(await handle.query(disputeStatusQuery)).toEqual({ phase: 'DONE', escalationLevel: 1, outcome: 'WITHDRAWN' });
    });
  });
});
