/**
 * The record is the outbox of its charge (see usage-pipeline.ts): its ChargeRequest is published
 * right after the batch commits. If the process died in between, or the publish failed, the
 * charge stays PENDING with no ChargeResult. The sweeper re-publishes PENDING charges older than
 * `graceMs` (wallets normally answers within a second), with back-off per record (30 s, 1 min,
 * 2 min … up to 1 h) counted in charge_attempts. The work list is pending_charge (with the
 * back-off columns), not usage_record: a ChargeResult takes the record off it. Re-publishing is
 * harmless: wallets applies a chargeId once and answers a repeat from its ledger. A charge that was published but is not
 * answered yet (wallets down or slow beyond `graceMs`) is on the stream once more per re-send.
 *
 * Re-rate adjustments (rerate-period.ts) go out through the outbox and wait in rerate_adjustment
 * for their ChargeResult; while one waits, its month cannot be re-rated again. The same pass
 * re-sends those PENDING longer than `graceMs`, with their own chargeId and the same back-off
 * (rerate_adjustment.charge_sent_at, charge_attempts): a request or a result lost on the way no
 * longer keeps the month blocked, and a re-send of one wallets applied only brings its result back.
 *
 * The service's pass also prunes emitted_event (sweepChargesCounted).
 */
import type { Sql } from '../persistence/sql';
import type { UsageRuntime } from '../usage-runtime';

export interface SweepOptions {
  graceMs: number;
  /** ChargeRequests re-sent per pass at most, adjustments first (default 2000). */
  limit?: number;
  /**
   * Rows of emitted_event kept this long (days) after the event, then deleted by the service's pass;
   * 0 keeps every row. Default USAGE_EMITTED_EVENT_RETENTION_DAYS, else 400.
   */
  emittedEventRetentionDays?: number;
}

/** What one pass re-sent: records' own ChargeRequests and re-rate adjustments'. */
export interface SweepResult {
  records: number;
  adjustments: number;
}

/**
 * Due for a re-send: never re-sent, or its back-off since the last re-send is over (30 s, 1 min,
 * 2 min … up to 1 h by charge_attempts); $2 is now. The same for records and adjustments.
 */
const dueAgain = (t: string) => `(${t}.charge_sent_at is null or ${t}.charge_sent_at < $2::timestamptz - least(3600, 30 * power(2, least(greatest(${t}.charge_attempts - 1, 0), 7))) * interval '1 second')`;

export async function sweepCharges(sql: Sql, publish: (charges: { id: string; payload: string }[]) => Promise<void>, now: Date, o: SweepOptions): Promise<SweepResult> {
  const limit = o.limit ?? 2000;
  const before = new Date(now.getTime() - o.graceMs);
  // Adjustments first: they are few, and each one waiting keeps its month's re-rates refused.
  const { rows: adjustments } = await sql.query<{ id: string; charge: string }>(
    `select charge_id as id, charge from rerate_adjustment
      where status = 'PENDING' and created_at < $1 and charge is not null and ${dueAgain('rerate_adjustment')}
      order by created_at limit $3`,
    [before, now, limit],
  );
  // The records' work list is pending_charge (a ChargeResult deletes the record's row there).
  const { rows: records } = adjustments.length >= limit ? { rows: [] } : await sql.query<{ id: string; charge: string }>(
    `select p.usage_record_id as id, u.charge from pending_charge p join usage_record u on u.id = p.usage_record_id
      where p.rated_at < $1 and u.charge is not null and ${dueAgain('p')}
      order by p.rated_at limit $3`,
    [before, now, limit - adjustments.length],
  );
  if (adjustments.length + records.length === 0) return { records: 0, adjustments: 0 };
  await publish([...adjustments, ...records].map((r) => ({ id: r.id, payload: r.charge })));
  if (records.length) await sql.query(`update pending_charge set charge_sent_at = $2, charge_attempts = charge_attempts + 1 where usage_record_id = any($1::text[])`, [records.map((r) => r.id), now]);
  if (adjustments.length) await sql.query(`update rerate_adjustment set charge_sent_at = $2, charge_attempts = charge_attempts + 1 where charge_id = any($1::text[]) and status = 'PENDING'`, [adjustments.map((r) => r.id), now]);
  return { records: records.length, adjustments: adjustments.length };
}

/** Rows of emitted_event deleted per statement: a short transaction, whatever the backlog. */
const PRUNE_BATCH = 5000;

/**
 * Deletes up to PRUNE_BATCH rows of emitted_event older than `retentionDays` before `now` (0: none).
 * A row only has to outlive the period its event is about (a line's or pool's allowance period, a
 * month or so), after which no record can ask for that event again; the default (400 days) keeps
 * them well past any period and a late import of a past period's usage. Returns how many went.
 */
export async function pruneEmittedEvents(sql: Sql, now: Date, retentionDays: number): Promise<number> {
  if (retentionDays === 0) return 0;
  const { rowCount } = await sql.query(
    `delete from emitted_event where id in (select id from emitted_event where created_at < $1 order by created_at limit $2)`,
    [new Date(now.getTime() - retentionDays * 86_400_000), PRUNE_BATCH],
  );
  return rowCount ?? 0;
}

/** USAGE_EMITTED_EVENT_RETENTION_DAYS (default 400; 0 keeps every row), checked: a whole number of days. */
export function emittedEventRetentionDays(value = process.env.USAGE_EMITTED_EVENT_RETENTION_DAYS): number {
  if (value === undefined || value.trim() === '') return 400;
  const days = Number(value);
  if (!Number.isInteger(days) || days < 0) throw new Error(`USAGE_EMITTED_EVENT_RETENTION_DAYS must be a whole number of days, 0 to keep every row (got "${value}")`);
  return days;
}

/**
 * The sweeper's pass in the service: re-publishes what is due and counts it on /metrics, then
 * prunes emitted_event. Returns how many ChargeRequests it re-sent (records and adjustments).
 */
export async function sweepChargesCounted(usage: Pick<UsageRuntime, 'sql' | 'publishCharges' | 'metrics'>, now: Date, o: SweepOptions): Promise<number> {
  const r = await sweepCharges(usage.sql, usage.publishCharges, now, o);
  usage.metrics.chargesResent.inc(r.records);
  usage.metrics.adjustmentsResent.inc(r.adjustments);
  // After the re-sends: a bad retention setting fails this step (logged each pass), never them.
  usage.metrics.emittedEventsPruned.inc(await pruneEmittedEvents(usage.sql, now, o.emittedEventRetentionDays ?? emittedEventRetentionDays()));
  return r.records + r.adjustments;
}
