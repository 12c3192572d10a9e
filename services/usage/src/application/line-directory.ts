/**
 * Line → subscription → plan version read model: rows built from subscribers' events (or the
 * admin upsert), cached in memory for the rating path and invalidated when an event changes them.
 */
import type { LineStateData, SubscriptionData } from '@ledgerline/contracts';
import type { PoolMember } from '../domain/period';
import type { LineCountStep, LineInfo, SubscriptionVersion } from '../domain/subscriber';
import { inSqlTransaction, type Sql, type SqlClient } from '../persistence/sql';
import { BoundedCache } from './bounded-cache';

/** Lines the directory keeps by default (USAGE_LINE_CACHE_SIZE; a few KB each). */
export const DEFAULT_MAX_LINES = 300_000;
/**
 * The smallest size allowed: a batch (up to a few thousand events) rates from the lines its lookup
 * loaded, so the cache must hold several batches' lines at once (see BoundedCache).
 */
export const MIN_MAX_LINES = 20_000;

/** The directory's size from USAGE_LINE_CACHE_SIZE: the default when unset, refused when not a whole number of at least MIN_MAX_LINES. */
export function lineCacheSize(value: string | undefined): number {
  if (value === undefined || value.trim() === '') return DEFAULT_MAX_LINES;
  const size = Number(value);
  if (!Number.isInteger(size) || size < MIN_MAX_LINES) throw new Error(`USAGE_LINE_CACHE_SIZE must be a whole number of at least ${MIN_MAX_LINES} (lines the rating path caches), not "${value}"`);
  return size;
}

interface LineRow {
  line_id: string;
  msisdn: string | null;
  billing_account_id: string;
  status: string;
}
/** A line of an account, for the account's line count over time (see lineCountsOf). */
interface AccountLineRow {
  billing_account_id: string;
  line_id: string;
  status: string;
  first_subscription: Date | null;
  changes: (Date | string)[];
  statuses: string[];
}
interface VersionRow {
  subscription_id: string;
  valid_from: Date;
  line_id: string;
  billing_account_id: string;
  payment_mode: 'PREPAID' | 'POSTPAID';
  currency: string;
  plan_code: string;
  plan_version_id: string;
  status: string;
  ends_at: Date | null;
  add_ons: string;
}

export class LineDirectory {
  // Bounded (an operator has millions of lines): a line not rated for a while is read again when needed.
  private readonly byLine: BoundedCache<string, LineInfo | null, string>;
  private readonly byMsisdn: BoundedCache<string, string>;
  /** MSISDN → every line that has held it and since when, oldest first (a number is given again after a line ends). */
  private readonly holders: BoundedCache<string, { at: Date; lineId: string }[]>;
  /** account → planVersionId → the account's subscriptions on that plan version (who shares its pools); by account, so an account's event forgets its own without a walk. */
  private readonly pools = new Map<string, Map<string, Promise<PoolMember[]>>>();
  private poolCount = 0;
  /** Account → its line count now and over time (shared by the LineInfo of its lines; dropped with the account's lines). */
  private readonly accountLines = new Map<string, { now: number; steps: LineCountStep[] }>();

  /**
   * Invalidations counted, so that a load that read the database before an event was applied does
   * not cache what it read after the event dropped that line (it would stay stale until the line's
   * next event): the epoch of each line's and account's last invalidation, and of the last clear.
   */
  private epoch = 0;
  private readonly lineInvalidated = new Map<string, number>();
  private readonly accountInvalidated = new Map<string, number>();
  private readonly msisdnInvalidated = new Map<string, number>();
  private clearedAt = 0;
  private reading = 0;

  /**
   * Told after a subscription event (a start, an end, a plan change): the line's allowance periods
   * may have moved or been renamed (see linePeriodAt), so the rating path's counters of the line
   * (and its account's pools) are loaded again from the records.
   */
  onSubscriptionChanged?: (lineId: string, billingAccountId: string) => void;

  constructor(
    private readonly sql: Sql,
    /** How many lines (and as many numbers) the cache keeps at most. */
    maxLines = DEFAULT_MAX_LINES,
  ) {
    // Grouped by billing account: an account's line count is in each of its lines' entries (lineCount), so a line
    // event drops the account's lines (deleteGroup), without a walk over the whole cache per event.
    this.byLine = new BoundedCache(maxLines, (info) => info?.billingAccountId);
    this.byMsisdn = new BoundedCache(maxLines);
    this.holders = new BoundedCache(maxLines);
  }

  /** How many lines are cached now (at most the size given to the constructor). */
  get cachedLines(): number {
    return this.byLine.size;
  }

  invalidate(lineId?: string, msisdn?: string | null): void {
    this.epoch++;
    if (lineId) {
      this.byLine.delete(lineId);
      this.lineInvalidated.set(lineId, this.epoch);
    }
    if (msisdn) {
      this.byMsisdn.delete(msisdn);
      this.holders.delete(msisdn);
      this.msisdnInvalidated.set(msisdn, this.epoch);
    }
  }

  clear(): void {
    this.clearedAt = ++this.epoch;
    this.byLine.clear();
    this.byMsisdn.clear();
    this.holders.clear();
    this.forgetAllPools();
    this.accountLines.clear();
    this.lineInvalidated.clear();
    this.accountInvalidated.clear();
  }

  /** Whether a line (of this account) was invalidated after a load that started at `since` read it. */
  private changedSince(since: number, lineId: string, billingAccountId?: string): boolean {
    return this.clearedAt > since || (this.lineInvalidated.get(lineId) ?? 0) > since || (billingAccountId !== undefined && (this.accountInvalidated.get(billingAccountId) ?? 0) > since);
  }

  /** The account's subscriptions on a plan version, with their start and end (cached until one of them changes). */
  poolMembers(billingAccountId: string, planVersionId: string): Promise<PoolMember[]> {
    let ofAccount = this.pools.get(billingAccountId);
    let members = ofAccount?.get(planVersionId);
    if (!members) {
      if (this.poolCount > 100_000) this.forgetAllPools();
      if (!ofAccount || !this.pools.has(billingAccountId)) this.pools.set(billingAccountId, (ofAccount = new Map()));
      members = this.sql
        .query<{ starts_at: Date; ends_at: Date | null; lapses: { lapsedAt: string; resumedAt: string | null }[] | null }>(
          `select min(v.valid_from) as starts_at, case when bool_or(v.ends_at is null) then null else max(v.ends_at) end as ends_at,
                  (select json_agg(json_build_object('lapsedAt', l.lapsed_at, 'resumedAt', l.resumed_at) order by l.lapsed_at) from period_lapse l
                    where l.subscription_id = v.subscription_id) as lapses
             from subscription_version v where v.billing_account_id = $1 and v.plan_version_id = $2 group by v.subscription_id`,
          [billingAccountId, planVersionId],
        )
        .then(({ rows }) => rows.flatMap((r) => paidStretches(new Date(r.starts_at), r.ends_at ? new Date(r.ends_at) : null, r.lapses ?? [])));
      const cached = members;
      // A failed read is not kept (unless the entry was replaced meanwhile).
      cached.catch(() => {
        const now = this.pools.get(billingAccountId);
        if (now?.get(planVersionId) === cached && now.delete(planVersionId)) this.poolCount--;
      });
      ofAccount.set(planVersionId, members);
      this.poolCount++;
    }
    return members;
  }

  private forgetPools(billingAccountId: string): void {
    this.poolCount -= this.pools.get(billingAccountId)?.size ?? 0;
    this.pools.delete(billingAccountId);
  }

  private forgetAllPools(): void {
    this.pools.clear();
    this.poolCount = 0;
  }

  /** Loads every line named by id or MSISDN that is not cached yet (four or five queries a read). */
  async prefetch(lineIds: Iterable<string>, msisdns: Iterable<string>): Promise<void> {
    const wantedIds = [...new Set(lineIds)];
    const wantedNumbers = [...new Set(msisdns)];
    // A line an event changed while it was being read is read again (a few times at most: after
    // that, what was read is kept, as fresh as the last event before it).
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!(await this.readUncached(wantedIds, wantedNumbers, attempt === 4))) return;
    }
  }

  /** One read of the lines not cached; true when some were changed meanwhile and were not cached. */
  private async readUncached(lineIds: string[], msisdns: string[], keepStale: boolean): Promise<boolean> {
    const ids = lineIds.filter((id) => !this.byLine.has(id));
    const numbers = msisdns.filter((m) => {
      const id = this.byMsisdn.get(m);
      const held = this.holders.get(m);
      return id === undefined || !this.byLine.has(id) || !held || held.some((h) => !this.byLine.has(h.lineId));
    });
    if (ids.length === 0 && numbers.length === 0) return false;
    this.reading++;
    try {
      return await this.read(ids, numbers, this.epoch, keepStale);
    } finally {
      // Invalidation marks only matter to reads in flight.
      if (--this.reading === 0) {
        this.lineInvalidated.clear();
        this.accountInvalidated.clear();
        this.msisdnInvalidated.clear();
      }
    }
  }

  private async read(ids: string[], numbers: string[], since: number, keepStale: boolean): Promise<boolean> {
    // Every line that has held a number named: an event is the line's that held it at the event's time.
    const held = numbers.length
      ? (await this.sql.query<{ msisdn: string; assigned_at: Date; line_id: string }>('select msisdn, assigned_at, line_id from msisdn_assignment where msisdn = any($1::text[]) order by assigned_at', [numbers])).rows
      : [];
    const { rows } = await this.sql.query<LineRow>(
      'select l.line_id, l.msisdn, l.billing_account_id, l.status from line_state l where l.line_id = any($1::text[]) or l.msisdn = any($2::text[])',
      [[...new Set([...ids, ...held.map((h) => h.line_id)])], numbers],
    );
    const found = rows.map((r) => r.line_id);
    const lineCounts = await this.lineCountsOf([...new Set(rows.map((r) => r.billing_account_id))], since, keepStale);
    const versions = found.length
      ? (await this.sql.query<VersionRow>('select * from subscription_version where line_id = any($1::text[]) order by valid_from', [found])).rows
      : [];
    const anchors = found.length
      ? (await this.sql.query<{ subscription_id: string; line_id: string; anchor_at: Date }>('select * from period_anchor where line_id = any($1::text[]) order by anchor_at', [found])).rows
      : [];
    const statuses = found.length
      ? (await this.sql.query<{ line_id: string; changed_at: Date; status: string }>('select line_id, changed_at, status from line_status_history where line_id = any($1::text[]) order by changed_at', [found])).rows
      : [];
    // Grouped once: a read of a batch's lines (thousands) filtered every list per line before.
    const versionsOf = groupBy(versions, (v) => v.line_id);
    const anchorsOf = groupBy(anchors, (a) => a.line_id);
    const statusesOf = groupBy(statuses, (x) => x.line_id);
    const heldOf = groupBy(held, (h) => h.msisdn);
    let stale = false;
    for (const id of ids) {
      if (!keepStale && this.changedSince(since, id)) stale = true;
      else if (!this.byLine.has(id)) this.byLine.set(id, null);
    }
    for (const row of rows) {
      if (!keepStale && this.changedSince(since, row.line_id, row.billing_account_id)) {
        stale = true;
        this.byLine.delete(row.line_id);
        continue;
      }
      const info: LineInfo = {
        lineId: row.line_id,
        msisdn: row.msisdn,
        billingAccountId: row.billing_account_id,
        status: row.status,
        lineCount: Math.max(1, lineCounts.get(row.billing_account_id)?.now ?? 1),
        lineCounts: lineCounts.get(row.billing_account_id)?.steps,
        versions: (versionsOf.get(row.line_id) ?? []).map(toVersion),
        restarts: restartsOf(anchorsOf.get(row.line_id) ?? []),
        statuses: (statusesOf.get(row.line_id) ?? []).map((s) => ({ at: new Date(s.changed_at), status: s.status })),
      };
      this.byLine.set(row.line_id, info);
      if (row.msisdn) this.byMsisdn.set(row.msisdn, row.line_id);
    }
    for (const m of numbers) {
      if (!keepStale && (this.clearedAt > since || (this.msisdnInvalidated.get(m) ?? 0) > since)) stale = true;
      else this.holders.set(m, (heldOf.get(m) ?? []).map((h) => ({ at: new Date(h.assigned_at), lineId: h.line_id })));
    }
    return stale;
  }

  /**
   * The line count of each account, now and over time (the `lineCount` fact of an event is the one
   * of its time: see lineCountAt): cached per account, one query for the accounts not cached, none
   * per event. A line counts from when it is known (its first status, or its first subscription's
   * start when that is earlier: lines whose history began with the migration that created it)
   * while its status is not TERMINATED. Dropped with the account's lines when a line of it changes.
   */
  private async lineCountsOf(accounts: string[], since: number, keepStale: boolean): Promise<Map<string, { now: number; steps: LineCountStep[] }>> {
    const out = new Map<string, { now: number; steps: LineCountStep[] }>();
    const missing: string[] = [];
    for (const a of accounts) {
      const cached = this.accountLines.get(a);
      if (cached) out.set(a, cached);
      else missing.push(a);
    }
    if (missing.length === 0) return out;
    const { rows } = await this.sql.query<AccountLineRow>(
      `select l.billing_account_id, l.line_id, l.status,
              (select min(v.valid_from) from subscription_version v where v.line_id = l.line_id) as first_subscription,
              coalesce(array_agg(h.changed_at order by h.changed_at) filter (where h.line_id is not null), '{}') as changes,
              coalesce(array_agg(h.status order by h.changed_at) filter (where h.line_id is not null), '{}') as statuses
         from line_state l left join line_status_history h on h.line_id = l.line_id
        where l.billing_account_id = any($1::text[])
        group by l.billing_account_id, l.line_id, l.status`,
      [missing],
    );
    const byAccount = new Map<string, AccountLineRow[]>(missing.map((a) => [a, []]));
    for (const r of rows) byAccount.get(r.billing_account_id)?.push(r);
    if (this.accountLines.size > 100_000) this.accountLines.clear();
    for (const [a, lines] of byAccount) {
      const counts = accountLineCounts(lines);
      out.set(a, counts);
      if (keepStale || !(this.clearedAt > since || (this.accountInvalidated.get(a) ?? 0) > since)) this.accountLines.set(a, counts);
    }
    return out;
  }

  /**
   * After prefetch: a line by id, or by MSISDN: the line that held the number at `at` when given (a
   * late event of a number given to another line since is its old line's), else the line holding it
   * now; undefined when no such line is known, or when the number's holders are not cached (the
   * caches turn on their own: the holder now is not the answer for an event from before a reassignment).
   */
  get(lineId: string | undefined, msisdn: string | undefined, at?: Date): LineInfo | undefined {
    if (lineId) return this.byLine.get(lineId) ?? undefined;
    if (!msisdn) return undefined;
    let id: string | undefined;
    if (at) {
      const holders = this.holders.get(msisdn);
      if (!holders) return undefined;
      id = holderAt(holders, at);
    }
    id ??= this.byMsisdn.get(msisdn);
    return id ? (this.byLine.get(id) ?? undefined) : undefined;
  }

  async load(lineId: string): Promise<LineInfo | undefined> {
    await this.prefetch([lineId], []);
    return this.get(lineId, undefined);
  }

  /** Idempotent: an older event never overwrites a newer state. */
  async applyLineState(data: LineStateData, at: Date): Promise<void> {
    // An MSISDN is reassigned after a line is terminated: the newest line to claim a number owns
    // it, and an older claim never takes it back (a stale claim must not block the consumer).
    let msisdn: string | null = data.msisdn || null;
    if (msisdn) {
      await this.sql.query('update line_state set msisdn = null where msisdn = $1 and line_id <> $2 and changed_at <= $3', [msisdn, data.lineId, at]);
      const { rows } = await this.sql.query<{ line_id: string }>('select line_id from line_state where msisdn = $1 and line_id <> $2', [msisdn, data.lineId]);
      if (rows.length > 0) msisdn = null;
    }
    await this.sql.query(
      `insert into line_state (line_id, msisdn, billing_account_id, status, changed_at) values ($1, $2, $3, $4, $5)
       on conflict (line_id) do update set msisdn = coalesce(excluded.msisdn, line_state.msisdn), billing_account_id = excluded.billing_account_id,
         status = excluded.status, changed_at = excluded.changed_at
       where line_state.changed_at <= excluded.changed_at`,
      [data.lineId, msisdn, data.billingAccountId, data.status, at],
    );
    await this.sql.query(
      'insert into line_status_history (line_id, changed_at, status) values ($1, $2, $3) on conflict (line_id, changed_at) do update set status = excluded.status',
      [data.lineId, at, data.status],
    );
    // Who held the number when, whatever the order events come in (line_state keeps only the newest claim).
    if (data.msisdn) await this.sql.query('insert into msisdn_assignment (msisdn, assigned_at, line_id) values ($1, $2, $3) on conflict (msisdn, assigned_at) do nothing', [data.msisdn, at, data.lineId]);
    this.invalidateAccount(data.billingAccountId);
    this.invalidate(data.lineId, data.msisdn);
  }

  /**
   * A subscription event. A new plan version opens a new row from the moment it took effect, so
   * events that arrive late still find the version in force at their own time; the same version
   * updates its latest row (status, end, add-ons). Replaying an event changes nothing.
   */
  async applySubscription(data: SubscriptionData, at: Date): Promise<void> {
    await inSqlTransaction(this.sql, async (db) => {
      await db.query('select pg_advisory_xact_lock(hashtext($1))', [data.subscriptionId]);
      const { rows } = await db.query<VersionRow>('select * from subscription_version where subscription_id = $1 order by valid_from', [data.subscriptionId]);
      const startsAt = new Date(data.startsAt);
      const endsAt = data.endsAt ? new Date(data.endsAt) : null;
      const same = rows.filter((r) => r.plan_version_id === data.planVersionId);
      const values = [data.lineId, data.billingAccountId, data.paymentMode, data.currency, data.planCode, data.planVersionId, data.status, endsAt, JSON.stringify(data.addOns ?? []), at];
      if (rows.length === 0 || same.length === 0) {
        const validFrom = rows.length === 0 ? startsAt : new Date(Math.max(at.getTime(), startsAt.getTime()));
        await insertVersion(db, data.subscriptionId, validFrom, values);
      } else {
        const latest = same[same.length - 1];
        let validFrom = latest.valid_from;
        // The line was activated: subscribers moves startsAt to the activation, and the allowance
        // periods run from there (wallets pays and grants the first one then). Nothing was rated
        // while it was pending, so its only row can move.
        if (rows.length === 1 && latest.status === 'PENDING' && data.status !== 'PENDING' && startsAt.getTime() !== new Date(latest.valid_from).getTime()) {
          await db.query('update subscription_version set valid_from = $3 where subscription_id = $1 and valid_from = $2 and changed_at <= $4', [data.subscriptionId, latest.valid_from, startsAt, at]);
          validFrom = startsAt;
        }
        await db.query(
          `update subscription_version set status = $3, ends_at = $4, add_ons = $5, changed_at = $6
            where subscription_id = $1 and valid_from = $2 and changed_at <= $6`,
          [data.subscriptionId, validFrom, data.status, endsAt, JSON.stringify(data.addOns ?? []), at],
        );
      }
      // The end of a subscription ends every version of it.
      await db.query('update subscription_version set ends_at = $2 where subscription_id = $1 and changed_at <= $3', [data.subscriptionId, endsAt, at]);
    });
    this.invalidate(data.lineId, data.msisdn);
    this.forgetPools(data.billingAccountId);
    this.onSubscriptionChanged?.(data.lineId, data.billingAccountId);
  }

  /** Wallets' bundle.renewed: where the subscription's periods run from now; a late one also ends the lapse that began at `lapsedAt` (idempotent). */
  async applyPeriodAnchor(subscriptionId: string, lineId: string, anchorAt: Date, lapsedAt: Date | null = null, billingAccountId?: string): Promise<void> {
    await this.sql.query('insert into period_anchor (subscription_id, anchor_at, line_id) values ($1, $2, $3) on conflict do nothing', [subscriptionId, anchorAt, lineId]);
    if (lapsedAt) await this.applyLapse(subscriptionId, lineId, lapsedAt, anchorAt);
    this.invalidate(lineId);
    if (billingAccountId) this.forgetPools(billingAccountId);
  }

  /** Wallets' bundle.feedue: the subscription's paid periods lapsed at `lapsedAt` (until a late renewal resumes them). Idempotent. */
  async applyLapse(subscriptionId: string, lineId: string, lapsedAt: Date, resumedAt: Date | null = null, billingAccountId?: string): Promise<void> {
    await this.sql.query(
      `insert into period_lapse (subscription_id, lapsed_at, resumed_at, line_id) values ($1, $2, $3, $4)
       on conflict (subscription_id, lapsed_at) do update set resumed_at = coalesce(excluded.resumed_at, period_lapse.resumed_at)`,
      [subscriptionId, lapsedAt, resumedAt, lineId],
    );
    if (billingAccountId) this.forgetPools(billingAccountId);
  }

  private invalidateAccount(billingAccountId: string): void {
    this.accountInvalidated.set(billingAccountId, ++this.epoch);
    this.accountLines.delete(billingAccountId);
    this.byLine.deleteGroup(billingAccountId);
  }
}

async function insertVersion(db: SqlClient, subscriptionId: string, validFrom: Date, values: unknown[]): Promise<void> {
  await db.query(
    `insert into subscription_version (subscription_id, valid_from, line_id, billing_account_id, payment_mode, currency, plan_code, plan_version_id, status, ends_at, add_ons, changed_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) on conflict (subscription_id, valid_from) do nothing`,
    [subscriptionId, validFrom, ...values],
  );
}

/** Rows by key, each key's in the order read. */
function groupBy<R>(rows: readonly R[], keyOf: (row: R) => string): Map<string, R[]> {
  const out = new Map<string, R[]>();
  for (const r of rows) {
    const key = keyOf(r);
    const list = out.get(key);
    if (list) list.push(r);
    else out.set(key, [r]);
  }
  return out;
}

/** The line that held a number at `at`: the last claim at or before it; before the first claim known, its claimant. */
function holderAt(holders: { at: Date; lineId: string }[] | undefined, at: Date): string | undefined {
  let id = holders?.[0]?.lineId;
  for (const h of holders ?? []) {
    if (h.at > at) break;
    id = h.lineId;
  }
  return id;
}

/**
 * A pool member as the stretches in which it had paid allowance periods: a lapse (its fee not
 * covered, from where its last paid period ended until a late renewal, if any yet) is cut out, so
 * it does not keep the pool going then.
 */
function paidStretches(startsAt: Date, endsAt: Date | null, lapses: { lapsedAt: string; resumedAt: string | null }[]): PoolMember[] {
  const out: PoolMember[] = [];
  let from = startsAt;
  for (const l of lapses) {
    const lapsed = new Date(l.lapsedAt);
    if (lapsed > from) out.push({ startsAt: from, endsAt: endsAt && endsAt < lapsed ? endsAt : lapsed });
    if (!l.resumedAt) return out;
    const resumed = new Date(l.resumedAt);
    if (resumed > from) from = resumed;
  }
  if (!endsAt || endsAt > from) out.push({ startsAt: from, endsAt });
  return out;
}

/** An account's line count now and as steps over time, from its lines' status histories (see lineCountsOf). */
function accountLineCounts(lines: AccountLineRow[]): { now: number; steps: LineCountStep[] } {
  const deltas: { t: number; d: number }[] = [];
  let now = 0;
  for (const l of lines) {
    if (l.status !== 'TERMINATED') now++;
    const changes = l.changes.map((c) => new Date(c).getTime());
    const firstSubscription = l.first_subscription ? new Date(l.first_subscription).getTime() : Number.POSITIVE_INFINITY;
    // Known since its first change or its first subscription's start, whichever is earlier (the epoch
    // with neither); before its first change it had its first known status (as statusAt reads it).
    const known = Math.min(changes[0] ?? Number.POSITIVE_INFINITY, firstSubscription);
    const from = Number.isFinite(known) ? known : 0;
    const history = changes.length > 0 ? changes.map((t, i) => ({ t, status: l.statuses[i] })) : [{ t: from, status: l.status }];
    let counted = false;
    for (const [i, h] of history.entries()) {
      const counts = h.status !== 'TERMINATED';
      if (counts !== counted) deltas.push({ t: i === 0 ? from : h.t, d: counts ? 1 : -1 });
      counted = counts;
    }
  }
  deltas.sort((a, b) => a.t - b.t);
  const steps: LineCountStep[] = [];
  let count = 0;
  for (const { t, d } of deltas) {
    count += d;
    const last = steps[steps.length - 1];
    if (last && last.at.getTime() === t) last.count = count;
    else steps.push({ at: new Date(t), count });
  }
  return { now, steps };
}

function restartsOf(rows: { subscription_id: string; anchor_at: Date }[]): Record<string, Date[]> {
  const out: Record<string, Date[]> = {};
  for (const r of rows) (out[r.subscription_id] ??= []).push(new Date(r.anchor_at));
  return out;
}

function toVersion(row: VersionRow): SubscriptionVersion {
  return {
    subscriptionId: row.subscription_id,
    validFrom: new Date(row.valid_from),
    billingAccountId: row.billing_account_id,
    paymentMode: row.payment_mode,
    currency: row.currency,
    planCode: row.plan_code,
    planVersionId: row.plan_version_id,
    status: row.status,
    endsAt: row.ends_at ? new Date(row.ends_at) : null,
    addOns: JSON.parse(row.add_ons),
  };
}
