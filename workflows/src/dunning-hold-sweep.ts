// Reconciliation of collections holds whose dunning ended without lifting them.
//
// A dunning lifts its holds itself when it ends normally (see workflows/dunning.ts). A run that an
// operator terminated in Temporal, or that failed, timed out or was cancelled, never gets there:
// its holds would keep the account's lines barred for ever, and keep the bars of later dunnings on
// after those are paid. The worker therefore sweeps now and then: it lists the holds of `dunning-`
// holders still in force (subscribers' `openCollectionsHolds`), asks Temporal about each holder's
// run (holder = workflow id), and lifts the holds of a run that ended without lifting them, those
// that landed after their run completed (a bar request given up at its call timeout that subscribers
// committed after the dunning's own lift), or those of a run Temporal no longer knows after a grace
// period (domain/orphaned-holds.ts), with the same `liftCollectionsHold` the dunning uses, so the
// line is restored exactly as a paid invoice restores it. The lift's key comes from a hold, so
// sweeps of several workers lift once. Holds of a running dunning are never touched.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { LineControlPort, LineRestoreRequest } from './activities/invoicing';
import { graphqlRequest, type GraphqlClientOptions } from './adapters/graphql';
import { DUNNING_HOLDER_PREFIX, isOrphaned, landedAfterCompletion, orphanLiftKey, type DunningRunState } from './domain/orphaned-holds';
import { DomainError } from './errors';

export interface OpenHold {
  id: string;
  holder: string;
  billingAccountId: string;
  /** ISO instant. */
  placedAt: string;
}

export interface OpenHoldsPage {
  holds: OpenHold[];
  endCursor: string | null;
  hasNextPage: boolean;
}

/** Subscribers: the collections holds still in force, in id order. */
export interface OpenHoldsPort {
  openHolds(req: { holderPrefix: string; first: number; after: string | null }): Promise<OpenHoldsPage>;
}

/** Temporal: where a dunning run stands. */
export interface DunningRunsPort {
  state(workflowId: string): Promise<DunningRunState>;
}

/** What the sweep logs through (pino's Logger is one). */
export interface SweepLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface DunningHoldSweepDeps {
  holds: OpenHoldsPort;
  lines: LineControlPort;
  runs: DunningRunsPort;
  logger: SweepLogger;
  /** How long the holds of a run Temporal cannot find are left alone, from the newest one's placement. */
  missingGraceMs: number;
  /** Holds read per request (default 100) and per pass at most (default 10,000; the rest next pass). */
  pageSize?: number;
  maxHoldsPerPass?: number;
}

export interface LiftedHolds {
  holder: string;
  billingAccountId: string;
  runState: DunningRunState;
  idempotencyKey: string;
  /** Holds this lift took off. */
  holds: number;
  /** Lines resumed: no other hold left on them and barred for collections. */
  lineIdsResumed: string[];
}

export interface DunningHoldSweepOutcome {
  /** Open holds of dunnings read this pass. */
  examined: number;
  /** Lifts done this pass, finished ones of earlier passes included. */
  lifted: LiftedHolds[];
  /** Of `lifted`, those of holds that landed after their dunning had completed (and lifted its holds). */
  liftedAfterCompletion: number;
  /** Holds left alone: their run is going, or missing for less than the grace period. */
  kept: number;
  /** Lifts whose resumption waits for another open order of a line: finished by a later pass (same key). */
  waiting: number;
  /** Holders that could not be looked at or lifted this pass (logged; tried again next pass). */
  failed: number;
}

export interface DunningHoldSweep {
  /** One pass: reads the open holds, lifts the orphans. */
  pass(now: Date): Promise<DunningHoldSweepOutcome>;
}

interface Group {
  holder: string;
  billingAccountId: string;
  holds: OpenHold[];
  newestPlacedAt: Date;
}

interface PendingLift {
  request: LineRestoreRequest;
  runState: DunningRunState;
  /** Holds the first attempt took off. */
  holds: number;
}

const isWaiting = (err: unknown) => err instanceof DomainError && err.code === 'ORDER_ALREADY_OPEN';

export function createDunningHoldSweep(deps: DunningHoldSweepDeps): DunningHoldSweep {
  const pageSize = deps.pageSize ?? 100;
  const maxHolds = deps.maxHoldsPerPass ?? 10_000;
  // A lift whose resumption had to wait has already taken the holds off, so no later listing shows
  // them: it is finished from here, with its key, like the dunning's activity retry would.
  const pending = new Map<string, PendingLift>();

  async function lift(p: PendingLift, out: DunningHoldSweepOutcome): Promise<void> {
    const { request, runState, holds } = p;
    const where = { holder: request.holdId, billingAccountId: request.billingAccountId, runState, idempotencyKey: request.idempotencyKey };
    try {
      const r = await deps.lines.restoreAccountLines(request);
      pending.delete(request.idempotencyKey);
      const lifted: LiftedHolds = { holder: request.holdId!, billingAccountId: request.billingAccountId, runState, idempotencyKey: request.idempotencyKey, holds, lineIdsResumed: r.lineIds ?? [] };
      out.lifted.push(lifted);
      if (landedAfterCompletion(runState)) {
        out.liftedAfterCompletion += 1;
        deps.logger.warn({ ...where, holds, linesResumed: lifted.lineIdsResumed }, 'lifted collections holds that landed after their dunning completed (a bar request committed late)');
      } else {
        deps.logger.info({ ...where, holds, linesResumed: lifted.lineIdsResumed }, 'lifted the collections holds of a dunning that ended without lifting them');
      }
    } catch (err) {
      if (isWaiting(err)) {
        pending.set(request.idempotencyKey, p);
        out.waiting += 1;
        deps.logger.warn({ ...where, err }, 'lifted the collections holds of an ended dunning; a line waits for another order before it resumes (next pass)');
      } else {
        out.failed += 1;
        deps.logger.warn({ ...where, err }, 'could not lift the collections holds of an ended dunning; next pass tries again');
      }
    }
  }

  // Where a pass that stopped at `maxHolds` left off: the next one goes on from there, so holds
  // of running dunnings at the front of the list cannot hide the rest for ever.
  let resumeAfter: string | null = null;
  async function readOpenHolds(): Promise<OpenHold[]> {
    const all: OpenHold[] = [];
    let after = resumeAfter;
    resumeAfter = null;
    for (;;) {
      const page = await deps.holds.openHolds({ holderPrefix: DUNNING_HOLDER_PREFIX, first: Math.min(pageSize, maxHolds - all.length), after });
      all.push(...page.holds);
      if (!page.hasNextPage || !page.endCursor) break;
      after = page.endCursor;
      if (all.length >= maxHolds) {
        resumeAfter = after;
        break;
      }
    }
    return all;
  }

  return {
    async pass(now) {
      const out: DunningHoldSweepOutcome = { examined: 0, lifted: [], liftedAfterCompletion: 0, kept: 0, waiting: 0, failed: 0 };
      for (const p of [...pending.values()]) await lift(p, out);

      const holds = await readOpenHolds();
      out.examined = holds.length;
      // One lift per holder and account (subscribers lifts a holder's holds account by account);
      // the holds come in id order, so each group's first hold, which keys its lift, is stable.
      const groups = new Map<string, Group>();
      for (const h of holds) {
        const k = `${h.billingAccountId}\u001f${h.holder}`;
        const placedAt = new Date(h.placedAt);
        const g = groups.get(k);
        if (!g) groups.set(k, { holder: h.holder, billingAccountId: h.billingAccountId, holds: [h], newestPlacedAt: placedAt });
        else {
          g.holds.push(h);
          if (placedAt > g.newestPlacedAt) g.newestPlacedAt = placedAt;
        }
      }
      const states = new Map<string, DunningRunState | null>();
      for (const g of groups.values()) {
        if (!states.has(g.holder)) {
          try {
            states.set(g.holder, await deps.runs.state(g.holder));
          } catch (err) {
            // Temporal unreachable or refusing: nothing is known, nothing is lifted.
            states.set(g.holder, null);
            deps.logger.warn({ holder: g.holder, err }, 'could not ask Temporal about a dunning that holds lines; next pass tries again');
          }
        }
        const state = states.get(g.holder);
        if (state === null || state === undefined) {
          out.failed += 1;
          continue;
        }
        if (!isOrphaned({ state, newestPlacedAt: g.newestPlacedAt, now, missingGraceMs: deps.missingGraceMs })) {
          out.kept += g.holds.length;
          continue;
        }
        const idempotencyKey = orphanLiftKey(g.holds[0]!.id);
        if (pending.has(idempotencyKey)) continue;
        const why = landedAfterCompletion(state)
          ? `${g.holder} completed; its hold landed after it lifted its holds`
          : `${g.holder} ${state === 'NOT_FOUND' ? 'is unknown to Temporal' : `ended ${state}`} without lifting its hold`;
        const request: LineRestoreRequest = {
          billingAccountId: g.billingAccountId,
          holdId: g.holder,
          idempotencyKey,
          reason: `${why} (lifted by the worker's sweep)`.slice(0, 300),
        };
        await lift({ request, runState: state, holds: g.holds.length }, out);
      }
      return out;
    },
  };
}

export interface DunningHoldSweepTimer {
  intervalMs: number;
  logger: SweepLogger;
  now?: () => Date;
}

/**
 * Runs a pass every `intervalMs` (the first within a second of the start). A failing pass is
 * logged and tried at the next tick; stopping waits for the pass under way.
 */
export function startDunningHoldSweep(sweep: DunningHoldSweep, o: DunningHoldSweepTimer): () => Promise<void> {
  const now = o.now ?? (() => new Date());
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = (async () => {
      try {
        const r = await sweep.pass(now());
        if (r.lifted.length > 0 || r.waiting > 0 || r.failed > 0) {
          o.logger.info({ examined: r.examined, lifted: r.lifted.length, liftedAfterCompletion: r.liftedAfterCompletion, kept: r.kept, waiting: r.waiting, failed: r.failed }, 'dunning hold sweep');
        }
      } catch (err) {
        o.logger.warn({ err }, 'dunning hold sweep: the pass failed; will retry');
      }
      if (!stopped) timer = setTimeout(tick, o.intervalMs);
    })();
  };
  timer = setTimeout(tick, Math.min(o.intervalMs, 1000));
  return async () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    await running;
  };
}

/** subscribers subgraph (or the gateway): `openCollectionsHolds`, staff only (the worker's token). */
export class GraphqlOpenHoldsClient implements OpenHoldsPort {
  constructor(private readonly client: GraphqlClientOptions) {}

  async openHolds(req: { holderPrefix: string; first: number; after: string | null }): Promise<OpenHoldsPage> {
    const d = await graphqlRequest<{
      openCollectionsHolds: { edges: { node: { id: string; holder: string; placedAt: string; billingAccount: { id: string } } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
    }>(
      this.client,
      `query($first: Int, $after: String, $f: CollectionsHoldFilter) {
        openCollectionsHolds(first: $first, after: $after, filter: $f) { edges { node { id holder placedAt billingAccount { id } } } pageInfo { hasNextPage endCursor } }
      }`,
      { first: req.first, after: req.after, f: { holderPrefix: req.holderPrefix } },
    );
    const c = d.openCollectionsHolds;
    return {
      holds: c.edges.map(({ node: n }) => ({ id: n.id, holder: n.holder, placedAt: n.placedAt, billingAccountId: n.billingAccount.id })),
      hasNextPage: c.pageInfo.hasNextPage,
      endCursor: c.pageInfo.endCursor,
    };
  }
}

/** Temporal: the latest run of the workflow id, or NOT_FOUND (never started, or removed after retention). */
export class TemporalDunningRuns implements DunningRunsPort {
  constructor(private readonly client: Client) {}

  async state(workflowId: string): Promise<DunningRunState> {
    try {
      return (await this.client.workflow.getHandle(workflowId).describe()).status.name;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
      throw err;
    }
  }
}
