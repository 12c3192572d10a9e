import type { Db, Sql } from '../persistence/sql';

export interface GroupCommitOptions {
  /** How long the first request of a batch waits for others (ms). */
  maxWaitMs: number;
  /** A batch is sent at once when this many are waiting. */
  maxBatch: number;
  /** Batches in flight at the same time (each holds one pooled connection). */
  maxInFlight: number;
}

/**
 * Counters per queue name, for benchmarks and logs: batches, requests, time in transactions, and
 * the times of the last transactions and of the last requests from submit to reply.
 */
export const groupCommitStats = new Map<string, { batches: number; requests: number; txMs: number; retriedAlone: number; successes: number; replies: number; recentTxMs: number[]; recentReplyMs: number[] }>();
const RECENT = 10_000;

type Pending<Req, Rep> = { req: Req; at: number; resolve: (rep: Rep) => void; reject: (error: unknown) => void };

/**
 * Group commit: requests are queued and applied together, `work(sql, requests)` in one database
 * transaction every `maxWaitMs` (or as soon as `maxBatch` are waiting), with one reply each.
 * `work` decides every request on its own (a refused one is a reply, not a throw). If the batch
 * transaction still throws (a database error), each request is retried alone in its own
 * transaction, so one bad request never fails the others; a request that fails alone gets
 * `onError`'s reply.
 */
export class GroupCommit<Req, Rep> {
  private queue: Pending<Req, Rep>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly db: Db,
    private readonly work: (sql: Sql, reqs: Req[]) => Promise<Rep[]>,
    private readonly onError: (req: Req, error: unknown) => Rep,
    private readonly opts: GroupCommitOptions,
    /** Runs after a commit that queued outbox rows (wakes the relay). */
    private readonly afterCommit: () => void = () => undefined,
    private readonly name = 'default',
  ) {}

  private stat() {
    let s = groupCommitStats.get(this.name);
    if (!s) groupCommitStats.set(this.name, (s = { batches: 0, requests: 0, txMs: 0, retriedAlone: 0, successes: 0, replies: 0, recentTxMs: [], recentReplyMs: [] }));
    return s;
  }

  submit(req: Req): Promise<Rep> {
    return new Promise<Rep>((resolve, reject) => {
      this.queue.push({ req, at: performance.now(), resolve, reject });
      if (this.queue.length >= this.opts.maxBatch) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.opts.maxWaitMs);
    });
  }

  /** Resolves when nothing is queued or in flight. */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight > 0) await new Promise<void>((r) => this.idle.add(r));
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.queue.length > 0 && this.inFlight < this.opts.maxInFlight) {
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        // Whatever queued meanwhile has already waited: send it now.
        if (this.queue.length > 0) this.flush();
        else if (this.inFlight === 0) {
          for (const r of [...this.idle]) {
            this.idle.delete(r);
            r();
          }
        }
      });
    }
  }

  /** `work` in one transaction; after the commit, `afterCommit` if it queued outbox rows. */
  private async commit(reqs: Req[]): Promise<Rep[]> {
    let queued = false;
    const replies = await this.db.tx(async (sql) => {
      const r = await this.work(sql, reqs);
      queued = Boolean(sql.eventsQueued);
      return r;
    });
    if (queued) this.afterCommit();
    return replies;
  }

  private async run(batch: Pending<Req, Rep>[]): Promise<void> {
    const stat = this.stat();
    stat.batches++;
    stat.requests += batch.length;
    const t0 = performance.now();
    try {
      const replies = await this.commit(batch.map((p) => p.req));
      const ms = performance.now() - t0;
      stat.txMs += ms;
      stat.recentTxMs[stat.successes++ % RECENT] = ms;
      const done = performance.now();
      batch.forEach((p, i) => {
        stat.recentReplyMs[stat.replies++ % RECENT] = done - p.at;
        p.resolve(replies[i]!);
      });
      return;
    } catch {
      // A database error (not a refusal): retry each request alone below.
    }
    stat.retriedAlone += batch.length;
    for (const p of batch) {
      try {
        const [reply] = await this.commit([p.req]);
        p.resolve(reply!);
      } catch (error) {
        try {
          p.resolve(this.onError(p.req, error));
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }
}
