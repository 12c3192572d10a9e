/**
 * Live usage, summed from the usage records themselves: each record carries the units it took
 * from its allowance and the money it cost (the rating-time estimate until wallets' ChargeResult
 * replaces it with the ledger's figures). Records are stored exactly once, so the sums are exact
 * without a separate counter table to keep in step; the hot path only inserts.
 */
import { dec } from '@ledgerline/contracts';
import { monthPeriod } from '../domain/period';
import { bucketOf, TOTAL_BUCKET, typeBucket, type LineCounters } from '../domain/live-usage';
import { versionAt } from '../domain/subscriber';
import { ACCOUNT_LINES, type Sql } from '../persistence/sql';
import type { UsageRuntime } from '../usage-runtime';
import { allowanceSizeOf } from './usage-pipeline';

interface SumRow {
  line_id: string;
  period: string;
  usage_type: string;
  allowance_id: string | null;
  units: string;
  from_allowance: string;
  spend: string;
  events: number;
  updated_at: Date;
}

const SUMS = `select r.line_id, k.period, r.usage_type, r.allowance_id, sum(r.charged_units) as units,
    sum(coalesce(r.units_from_allowances, r.from_allowance, 0)) as from_allowance,
    sum(case when r.charge_status = 'DENIED' then 0 else coalesce(r.amount_charged, r.spend, 0) end) as spend,
    count(*)::int as events, max(r.rated_at) as updated_at
  from usage_record r join unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) as k(line_id, period, s, e)
    on r.line_id = k.line_id and r.occurred_at >= k.s and r.occurred_at < k.e
  where r.status in ('RATED', 'RERATED', 'BILLED')
  group by r.line_id, k.period, r.usage_type, r.allowance_id`;

async function sums(sql: Sql, keys: { lineId: string; period: string }[]): Promise<SumRow[]> {
  const periods = keys.map((k) => monthPeriod(k.period, new Date()));
  const { rows } = await sql.query<SumRow>(SUMS, [keys.map((k) => k.lineId), keys.map((k) => k.period), periods.map((p) => p.start), periods.map((p) => p.end)]);
  return rows;
}

/** Counters of `line|period` keys for the rating path (allowance sizes are filled from the plan). */
export async function loadLineCounters(sql: Sql, keys: string[]): Promise<Map<string, LineCounters>> {
  const out = new Map<string, LineCounters>(keys.map((k) => [k, new Map()]));
  const rows = await sums(sql, keys.map((k) => ({ lineId: k.split('|')[0], period: k.split('|')[1] })));
  for (const r of rows) {
    const c = out.get(`${r.line_id}|${r.period}`)!;
    const add = (bucket: string, used: string, spend: string) => {
      const b = bucketOf(c, bucket);
      b.used = b.used.plus(used);
      b.spend = b.spend.plus(spend);
      b.events += Number(r.events);
    };
    add(TOTAL_BUCKET, '0', r.spend);
    add(typeBucket(r.usage_type), r.units, '0');
    if (r.allowance_id) add(r.allowance_id, r.from_allowance, '0');
  }
  return out;
}

export interface LineUsageView {
  lineId: string;
  period: string;
  totals: { usageType: string; unit: string; quantity: string; events: number }[];
  allowances: { allowanceId: string; used: string; allowance: string | null; remaining: string | null; usedRatio: string }[];
  spend: string;
  events: number;
  updatedAt: Date | null;
}

const UNIT: Record<string, string> = { VOICE: 'SECOND', SMS: 'MESSAGE', MMS: 'MESSAGE', DATA: 'MB', CONTENT: 'ITEM' };

async function views(usage: UsageRuntime, keys: { lineId: string; period: string }[], now: Date): Promise<LineUsageView[]> {
  const rows = await sums(usage.sql, keys);
  const result: LineUsageView[] = [];
  for (const key of keys) {
    const mine = rows.filter((r) => r.line_id === key.lineId && r.period === key.period);
    if (mine.length === 0 && keys.length > 1) continue;
    const v: LineUsageView = { lineId: key.lineId, period: key.period, totals: [], allowances: [], spend: '0', events: 0, updatedAt: null };
    const types = new Map<string, { quantity: ReturnType<typeof dec>; events: number }>();
    const buckets = new Map<string, ReturnType<typeof dec>>();
    let spend = dec('0');
    for (const r of mine) {
      spend = spend.plus(r.spend);
      v.events += Number(r.events);
      if (!v.updatedAt || (r.updated_at && r.updated_at > v.updatedAt)) v.updatedAt = r.updated_at;
      const t = types.get(r.usage_type) ?? { quantity: dec('0'), events: 0 };
      t.quantity = t.quantity.plus(r.units);
      t.events += Number(r.events);
      types.set(r.usage_type, t);
      if (r.allowance_id) buckets.set(r.allowance_id, (buckets.get(r.allowance_id) ?? dec('0')).plus(r.from_allowance));
    }
    v.spend = spend.toString();
    v.totals = [...types].sort(([a], [b]) => a.localeCompare(b)).map(([usageType, t]) => ({ usageType, unit: UNIT[usageType] ?? 'ITEM', quantity: t.quantity.toString(), events: t.events }));
    // Sizes of the allowances from the plan in force now; every allowance of the plan is listed.
    const line = await usage.directory.load(key.lineId);
    const version = line ? versionAt(line, now) : undefined;
    const plan = version ? await usage.plans.get(version.planVersionId).catch(() => undefined) : undefined;
    if (plan?.ok) for (const a of plan.rater.compiled.plan.allowances) if (!buckets.has(a.id)) buckets.set(a.id, dec('0'));
    v.allowances = [...buckets].sort(([a], [b]) => a.localeCompare(b)).map(([allowanceId, used]) => {
      const size = plan?.ok ? allowanceSizeOf(plan.rater, allowanceId, usage.plans.knownOffers()) : undefined;
      const s = size ? dec(size) : null;
      return {
        allowanceId,
        used: used.toString(),
        allowance: s?.toString() ?? null,
        remaining: s ? (s.minus(used).isNegative() ? '0' : s.minus(used).toString()) : null,
        usedRatio: s && !s.isZero() ? used.div(s).toDecimalPlaces(4).toString() : '0',
      };
    });
    result.push(v);
  }
  return result;
}

export async function lineUsage(usage: UsageRuntime, lineId: string, period: string | null | undefined, now: Date): Promise<LineUsageView> {
  const p = monthPeriod(period, now);
  return (await views(usage, [{ lineId, period: p.period }], now))[0];
}

export async function accountUsage(usage: UsageRuntime, billingAccountId: string, period: string | null | undefined, now: Date) {
  const p = monthPeriod(period, now);
  const { rows } = await usage.sql.query<{ line_id: string }>(
    `select distinct line_id from usage_record where line_id in ${ACCOUNT_LINES} and billing_account_id = $1 and occurred_at >= $2 and occurred_at < $3 and line_id is not null order by line_id`,
    [billingAccountId, p.start, p.end],
  );
  const lines = rows.length ? await views(usage, rows.map((r) => ({ lineId: r.line_id, period: p.period })), now) : [];
  return { billingAccountId, period: p.period, lines, spend: lines.reduce((s, l) => s.plus(l.spend), dec('0')).toString(), events: lines.reduce((s, l) => s + l.events, 0) };
}
