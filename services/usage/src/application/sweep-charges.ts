/**
 * The record is the outbox of its charge (see usage-pipeline.ts): its ChargeRequest is published
 * right after the batch commits. If the process died in between, or the publish failed, the
 * charge stays PENDING with no ChargeResult. The sweeper re-publishes PENDING charges older than
 * `graceMs` (wallets normally answers within a second), with back-off per record (30 s, 1 min,
 * 2 min … up to 1 h) counted in charge_attempts. Re-publishing is harmless: wallets applies a
 * chargeId once and answers a repeat from its ledger. A charge that was published but is not
 * answered yet (wallets down or slow beyond `graceMs`) is on the stream once more per re-send.
 */
import type { Sql } from '../persistence/sql';
import type { UsageRuntime } from '../usage-runtime';

export interface SweepOptions {
  graceMs: number;
  limit?: number;
}

export async function sweepCharges(sql: Sql, publish: (charges: { id: string; payload: string }[]) => Promise<void>, now: Date, o: SweepOptions): Promise<number> {
  const { rows } = await sql.query<{ id: string; charge: string }>(
    `select id, charge from usage_record
      where charge_status = 'PENDING' and rated_at < $1 and charge is not null
        and (charge_sent_at is null or charge_sent_at < $2::timestamptz - least(3600, 30 * power(2, least(greatest(charge_attempts - 1, 0), 7))) * interval '1 second')
      order by rated_at limit $3`,
    [new Date(now.getTime() - o.graceMs), now, o.limit ?? 2000],
  );
  if (rows.length === 0) return 0;
  await publish(rows.map((r) => ({ id: r.id, payload: r.charge })));
  await sql.query(`update usage_record set charge_sent_at = $2, charge_attempts = charge_attempts + 1 where id = any($1::text[]) and charge_status = 'PENDING'`, [rows.map((r) => r.id), now]);
  return rows.length;
}

/** The sweeper's pass in the service: re-publishes what is due and counts it on /metrics. */
export async function sweepChargesCounted(usage: Pick<UsageRuntime, 'sql' | 'publishCharges' | 'metrics'>, now: Date, o: SweepOptions): Promise<number> {
  const n = await sweepCharges(usage.sql, usage.publishCharges, now, o);
  usage.metrics.chargesResent.inc(n);
  return n;
}
