// The sweep's bookkeeping with fake ports (the real subscribers and Temporal are in
// test/dunning-orphaned-holds.timeskipping.test.ts): paging, one lift per holder and account,
// a lift whose resumption waits finished by the next pass, Temporal unreachable lifts nothing.
import { describe, expect, it } from 'vitest';
import type { LineControlPort, LineRestoreRequest } from './activities/invoicing';
import { createDunningHoldSweep, type OpenHold, type OpenHoldsPort } from './dunning-hold-sweep';
import type { DunningRunState } from './domain/orphaned-holds';
import { DomainError } from './errors';

const now = new Date('2026-11-27T12:00:00Z');
const quiet = { info: () => {}, warn: () => {} };

/** Holds in id order, two a page; a lift takes the holder's open holds on the account off. */
class FakeSubscribers implements OpenHoldsPort, LineControlPort {
  readonly lifts: LineRestoreRequest[] = [];
  /** Lift keys whose resumption waits, how many more times. */
  readonly busy = new Map<string, number>();
  constructor(public open: OpenHold[]) {}
  async openHolds(req: { holderPrefix: string; first: number; after: string | null }) {
    const rows = this.open.filter((h) => h.holder.startsWith(req.holderPrefix) && (!req.after || h.id > req.after)).sort((a, b) => a.id.localeCompare(b.id));
    const page = rows.slice(0, Math.min(req.first, 2));
    return { holds: page, hasNextPage: rows.length > page.length, endCursor: page.at(-1)?.id ?? null };
  }
  async suspendAccountLines(): Promise<never> {
    throw new Error('not used');
  }
  async restoreAccountLines(req: LineRestoreRequest) {
    this.lifts.push(req);
    this.open = this.open.filter((h) => !(h.holder === req.holdId && h.billingAccountId === req.billingAccountId));
    const left = this.busy.get(req.idempotencyKey) ?? 0;
    if (left > 0) {
      this.busy.set(req.idempotencyKey, left - 1);
      throw new DomainError('ORDER_ALREADY_OPEN', 'another order is open', { retryable: true });
    }
    return { lines: 1, lineIds: [`line-of-${req.billingAccountId}`] };
  }
}
const hold = (id: string, holder: string, account: string): OpenHold => ({ id, holder, billingAccountId: account, placedAt: '2026-11-20T00:00:00Z' });
const runs = (states: Record<string, DunningRunState | Error>) => ({
  state: async (id: string) => {
    const s = states[id] ?? 'NOT_FOUND';
    if (s instanceof Error) throw s;
    return s;
  },
});

describe('dunning hold sweep', () => {
  it('reads every page and lifts once per holder and account, keyed by the first hold', async () => {
    const subs = new FakeSubscribers([
      hold('h1', 'dunning-a', 'acc1'),
      hold('h2', 'dunning-a', 'acc1'),
      hold('h3', 'dunning-b', 'acc2'),
      hold('h4', 'dunning-a', 'acc3'),
      hold('h5', 'agent-x', 'acc1'),
    ]);
    const sweep = createDunningHoldSweep({ holds: subs, lines: subs, runs: runs({ 'dunning-a': 'TERMINATED', 'dunning-b': 'RUNNING' }), logger: quiet, missingGraceMs: 0 });
    const r = await sweep.pass(now);
    expect(r).toMatchObject({ examined: 4, kept: 1, waiting: 0, failed: 0 });
    expect(subs.lifts.map((l) => [l.billingAccountId, l.holdId, l.idempotencyKey])).toEqual([
      ['acc1', 'dunning-a', 'orphaned-hold-lift:h1'],
      ['acc3', 'dunning-a', 'orphaned-hold-lift:h4'],
    ]);
    expect(r.lifted.map((l) => l.holds)).toEqual([2, 1]);
  });

  it('goes on where a pass stopped at its limit, then starts over', async () => {
    const subs = new FakeSubscribers([hold('h1', 'dunning-a', 'acc1'), hold('h2', 'dunning-b', 'acc2'), hold('h3', 'dunning-c', 'acc3')]);
    const sweep = createDunningHoldSweep({ holds: subs, lines: subs, runs: runs({ 'dunning-a': 'RUNNING', 'dunning-b': 'RUNNING', 'dunning-c': 'TERMINATED' }), logger: quiet, missingGraceMs: 0, maxHoldsPerPass: 2 });
    expect(await sweep.pass(now)).toMatchObject({ examined: 2, kept: 2, lifted: [] });
    expect((await sweep.pass(now)).lifted.map((l) => l.holder)).toEqual(['dunning-c']);
    expect(await sweep.pass(now)).toMatchObject({ examined: 2, kept: 2, lifted: [] });
  });

  it('finishes a lift whose resumption had to wait on the next pass, with the same key', async () => {
    const subs = new FakeSubscribers([hold('h1', 'dunning-a', 'acc1')]);
    subs.busy.set('orphaned-hold-lift:h1', 1);
    const sweep = createDunningHoldSweep({ holds: subs, lines: subs, runs: runs({ 'dunning-a': 'FAILED' }), logger: quiet, missingGraceMs: 0 });
    expect(await sweep.pass(now)).toMatchObject({ lifted: [], waiting: 1 });
    // The holds are off already, so no listing shows them any more: the sweep remembers the lift.
    const second = await sweep.pass(now);
    expect(second).toMatchObject({ examined: 0, waiting: 0 });
    expect(second.lifted.map((l) => [l.holder, l.idempotencyKey, l.runState])).toEqual([['dunning-a', 'orphaned-hold-lift:h1', 'FAILED']]);
    expect(subs.lifts.map((l) => l.idempotencyKey)).toEqual(['orphaned-hold-lift:h1', 'orphaned-hold-lift:h1']);
    expect((await sweep.pass(now)).lifted).toEqual([]);
  });

  it('lifts the holds that landed after their dunning completed, once, logged and counted apart', async () => {
    const subs = new FakeSubscribers([hold('h1', 'dunning-paid', 'acc1'), hold('h2', 'dunning-going', 'acc2')]);
    const logged: { obj: Record<string, unknown>; msg: string }[] = [];
    const log = (obj: object, msg: string) => void logged.push({ obj: obj as Record<string, unknown>, msg });
    const logger = { info: log, warn: log };
    const sweep = createDunningHoldSweep({ holds: subs, lines: subs, runs: runs({ 'dunning-paid': 'COMPLETED', 'dunning-going': 'RUNNING' }), logger, missingGraceMs: 24 * 3_600_000 });
    const r = await sweep.pass(now);
    // Before: kept 2, lifted none; the paid customer's line stayed barred.
    expect(r).toMatchObject({ examined: 2, kept: 1, failed: 0, liftedAfterCompletion: 1 });
    expect(r.lifted.map((l) => [l.holder, l.runState, l.idempotencyKey])).toEqual([['dunning-paid', 'COMPLETED', 'orphaned-hold-lift:h1']]);
    expect(logged.filter((l) => l.obj.holder === 'dunning-paid' && /landed after their dunning completed/.test(l.msg))).toHaveLength(1);
    expect(await sweep.pass(now)).toMatchObject({ examined: 1, kept: 1, lifted: [], liftedAfterCompletion: 0 });
    expect(subs.lifts).toHaveLength(1);
  });

  it('lifts nothing for a holder Temporal cannot be asked about', async () => {
    const subs = new FakeSubscribers([hold('h1', 'dunning-a', 'acc1'), hold('h2', 'dunning-b', 'acc2')]);
    const sweep = createDunningHoldSweep({ holds: subs, lines: subs, runs: runs({ 'dunning-a': new Error('UNAVAILABLE'), 'dunning-b': 'TIMED_OUT' }), logger: quiet, missingGraceMs: 0 });
    const r = await sweep.pass(now);
    expect(r).toMatchObject({ failed: 1 });
    expect(subs.lifts.map((l) => l.holdId)).toEqual(['dunning-b']);
  });
});
