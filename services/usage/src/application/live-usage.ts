/**
 * Live usage, summed from the usage records themselves: each record carries the units it took
 * from its allowance and the money it cost (the rating-time estimate until wallets' ChargeResult
 * replaces it with the ledger's figures, in the record's charge_outcome row). Records are stored exactly once, so the sums are exact
 * without a separate counter table to keep in step; the hot path only inserts.
 */
import { dec, type AllowancePeriod } from '@ledgerline/contracts';
import { UNIT_OF_USAGE_TYPE } from '@ledgerline/rating';
import { calendarMonthAt, linePeriodAt, periodQueryInstant, poolPeriodAt } from '../domain/period';
import { addOnPurchasesShown, bucketOf, newBucket, TOTAL_BUCKET, typeBucket, type AddOnPurchase, type LineCounters } from '../domain/live-usage';
import { versionAt } from '../domain/subscriber';
import { ACCOUNT_LINES, type Sql } from '../persistence/sql';
import type { UsageRuntime } from '../usage-runtime';
import { addOnAllowancesOf, allowanceSizeOf, feePeriodOf, poolKeyOf, sharedAllowancesOf } from './usage-pipeline';

/** A line and the allowance period whose usage is summed. */
export interface LinePeriod {
  lineId: string;
  period: AllowancePeriod;
}

interface SumRow {
  line_id: string;
  period: string;
  /** Null on a row of units rolled over into the period (`units`: how many, of `allowance_id`). */
  usage_type: string | null;
  allowance_id: string | null;
  units: string;
  from_allowance: string;
  spend: string;
  events: number;
  updated_at: Date;
}

// With each line's period, in the same statement, the units wallets rolled over into it (period_rollover, owner = the line).
const sumsSql = (ofAccount: boolean) => `select r.line_id, k.period, r.usage_type, r.allowance_id, sum(r.charged_units) as units,
    sum(coalesce(co.units_from_allowances, r.units_from_allowances, r.from_allowance, 0)) as from_allowance,
    sum(case when coalesce(co.outcome, r.charge_status) = 'DENIED' then 0 else coalesce(co.amount_charged, r.amount_charged, r.spend, 0) end) as spend,
    count(*)::int as events, max(r.rated_at) as updated_at
  from usage_record r join unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) as k(line_id, period, s, e)
    on r.line_id = k.line_id and r.occurred_at >= k.s and r.occurred_at < k.e
    left join charge_outcome co on co.usage_record_id = r.id
  where r.status in ('RATED', 'RERATED', 'BILLED')${ofAccount ? ' and r.billing_account_id = any($5::text[])' : ''}
  group by r.line_id, k.period, r.usage_type, r.allowance_id
  union all
  select k.line_id, k.period, null, o.allowance_id, sum(o.quantity), 0, 0, 0, null
  from unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) as k(line_id, period, s, e)
    join period_rollover o on o.owner = k.line_id and o.period_start >= k.s and o.period_start < k.e
  group by k.line_id, k.period, o.allowance_id`;
const SUMS = sumsSql(false);
const SUMS_OF_ACCOUNT = sumsSql(true);

/**
 * Each line's sums in its period; with `accounts`, only the records rated to those accounts
 * (a line that moved between accounts: the other account's usage on it is not this one's).
 */
async function sums(sql: Sql, keys: LinePeriod[], accounts?: readonly string[]): Promise<SumRow[]> {
  const params: unknown[] = [keys.map((k) => k.lineId), keys.map((k) => k.period.period), keys.map((k) => k.period.start), keys.map((k) => k.period.end)];
  const { rows } = await sql.query<SumRow>(accounts ? SUMS_OF_ACCOUNT : SUMS, accounts ? [...params, [...accounts]] : params);
  return rows;
}

/** Counters (`line|period` keys) for the rating path (allowance sizes are filled from the plan). */
export async function loadLineCounters(sql: Sql, keys: LinePeriod[]): Promise<Map<string, LineCounters>> {
  const out = new Map<string, LineCounters>(keys.map((k) => [`${k.lineId}|${k.period.period}`, new Map()]));
  const rows = await sums(sql, keys);
  for (const r of rows) {
    const c = out.get(`${r.line_id}|${r.period}`)!;
    if (r.usage_type === null) {
      // Rolled over into the period: part of the allowance's size (setAllowance adds it to the plan's).
      if (r.allowance_id) bucketOf(c, r.allowance_id).rollover = dec(r.units);
      continue;
    }
    const add = (bucket: string, used: string, spend: string) => {
      const b = bucketOf(c, bucket);
      b.used = b.used.plus(used);
      b.spend = b.spend.plus(spend);
      b.events += Number(r.events);
      return b;
    };
    add(TOTAL_BUCKET, '0', r.spend);
    add(typeBucket(r.usage_type), r.units, '0');
    // Thresholds the records passed are reported again by the next event on the bucket (see Bucket.fromRecords).
    if (r.allowance_id) add(r.allowance_id, r.from_allowance, '0').fromRecords = true;
  }
  return out;
}

// What each add-on purchase's allowance took, over the purchase's validity (wallets' bucket of it).
const addOnSumsSql = (ofAccount: boolean) => `select k.key, sum(coalesce(co.units_from_allowances, r.units_from_allowances, r.from_allowance, 0)) as used, count(*)::int as events
  from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) as k(key, line_id, allowance_id, s, e)
  join usage_record r on r.line_id = k.line_id and r.occurred_at >= k.s and r.occurred_at < k.e and r.allowance_id = k.allowance_id
  left join charge_outcome co on co.usage_record_id = r.id
  where r.status in ('RATED', 'RERATED', 'BILLED')${ofAccount ? ' and r.billing_account_id = any($6::text[])' : ''}
  group by k.key`;
const ADD_ON_SUMS = addOnSumsSql(false);
const ADD_ON_SUMS_OF_ACCOUNT = addOnSumsSql(true);

/** Counters of add-on purchases (keyed by `purchase.key`): one bucket, the purchase's allowance (`fromRecords`, see Bucket). */
export async function loadAddOnCounters(sql: Sql, purchases: AddOnPurchase[], accounts?: readonly string[]): Promise<Map<string, LineCounters>> {
  const out = new Map<string, LineCounters>(purchases.map((p) => [p.key, new Map([[p.allowanceId, newBucket()]])]));
  if (purchases.length === 0) return out;
  const params: unknown[] = [purchases.map((p) => p.key), purchases.map((p) => p.lineId), purchases.map((p) => p.allowanceId), purchases.map((p) => p.start), purchases.map((p) => p.end)];
  const { rows } = await sql.query<{ key: string; used: string; events: number }>(accounts ? ADD_ON_SUMS_OF_ACCOUNT : ADD_ON_SUMS, accounts ? [...params, [...accounts]] : params);
  const byKey = new Map(purchases.map((p) => [p.key, p]));
  for (const r of rows) {
    const b = out.get(r.key)!.get(byKey.get(r.key)!.allowanceId)!;
    b.used = b.used.plus(r.used);
    b.events += Number(r.events);
    b.fromRecords = true;
  }
  return out;
}

// One pool per account, plan version and allowance, as wallets keeps them: only the records the
// account's lines were rated by that plan version with count.
// With them, in the same statement, the units wallets rolled over into the pool's period (period_rollover, owner = poolRolloverOwner).
const POOL_SUMS = `select k.account, k.plan_version, k.period, r.allowance_id, sum(coalesce(co.units_from_allowances, r.units_from_allowances, r.from_allowance, 0)) as used, count(*)::int as events, null::numeric as rollover
  from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) as k(account, plan_version, period, s, e)
  join lateral (select line_id from subscription_version v where v.billing_account_id = k.account
                union select line_id from line_state l where l.billing_account_id = k.account) as a on true
  join usage_record r on r.line_id = a.line_id and r.billing_account_id = k.account and r.plan_version_id = k.plan_version
    and r.occurred_at >= k.s and r.occurred_at < k.e
  left join charge_outcome co on co.usage_record_id = r.id
  where r.status in ('RATED', 'RERATED', 'BILLED') and r.allowance_id is not null
  group by k.account, k.plan_version, k.period, r.allowance_id
  union all
  select k.account, k.plan_version, k.period, o.allowance_id, null, 0, sum(o.quantity)
  from unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) as k(account, plan_version, period, s, e)
    join period_rollover o on o.owner = 'pool:' || k.account || '|' || k.plan_version and o.period_start >= k.s and o.period_start < k.e
  group by k.account, k.plan_version, k.period, o.allowance_id`;

/** A shared pool: an account's, of a plan version, in a pool period. */
export interface PoolOf {
  billingAccountId: string;
  planVersionId: string;
  period: AllowancePeriod;
}

/** What a pool's allowance holds in a period: units used, the events that used them, units rolled over into it. */
interface PoolSum {
  used: string;
  events: number;
  rollover?: string;
}

/** Units the account's lines on a plan version took from each allowance in a period (a shared pool's use), and what rolled over into it. */
async function poolSums(sql: Sql, keys: PoolOf[]): Promise<Map<string, Map<string, PoolSum>>> {
  const out = new Map<string, Map<string, PoolSum>>(keys.map((k) => [poolKeyOf(k.billingAccountId, k.planVersionId, k.period.period), new Map()]));
  if (keys.length === 0) return out;
  const { rows } = await sql.query<{ account: string; plan_version: string; period: string; allowance_id: string; used: string | null; events: number; rollover: string | null }>(POOL_SUMS, [
    keys.map((k) => k.billingAccountId),
    keys.map((k) => k.planVersionId),
    keys.map((k) => k.period.period),
    keys.map((k) => k.period.start),
    keys.map((k) => k.period.end),
  ]);
  for (const r of rows) {
    const sums = out.get(poolKeyOf(r.account, r.plan_version, r.period))!;
    const s = sums.get(r.allowance_id) ?? { used: '0', events: 0 };
    if (r.rollover !== null) s.rollover = r.rollover;
    else Object.assign(s, { used: r.used ?? '0', events: Number(r.events) });
    sums.set(r.allowance_id, s);
  }
  return out;
}

/** Pool counters (`pool:account|planVersion@period` keys) for the rating path: one bucket per allowance, summed over the pool's lines (`fromRecords`, see Bucket). */
export async function loadPoolCounters(sql: Sql, keys: PoolOf[]): Promise<Map<string, LineCounters>> {
  const out = new Map<string, LineCounters>();
  for (const [key, sums] of await poolSums(sql, keys)) {
    const c: LineCounters = new Map();
    for (const [allowanceId, s] of sums) {
      const b = bucketOf(c, allowanceId);
      b.used = b.used.plus(s.used);
      b.events += s.events;
      b.fromRecords = true;
      if (s.rollover !== undefined) b.rollover = dec(s.rollover);
    }
    out.set(key, c);
  }
  return out;
}

export interface LineUsageView {
  lineId: string;
  period: string;
  periodStart: Date;
  periodEnd: Date;
  totals: { usageType: string; unit: string; quantity: string; events: number }[];
  allowances: AllowanceView[];
  spend: string;
  events: number;
  updatedAt: Date | null;
}

export interface AllowanceView {
  allowanceId: string;
  /** For a shared pool: what every line of the account on the plan version used; else this line's use. */
  used: string;
  allowance: string | null;
  remaining: string | null;
  usedRatio: string;
  shared: boolean;
  /** This line's own draw (equals `used` unless the allowance is a shared pool). */
  usedByLine: string;
  /** The plan version the allowance comes from (a shared pool is one per account and plan version). */
  planVersionId: string | null;
}

function allowanceView(allowanceId: string, used: ReturnType<typeof dec>, byLine: ReturnType<typeof dec>, size: string | null | undefined, shared: boolean, planVersionId: string | null): AllowanceView {
  const s = size ? dec(size) : null;
  return {
    allowanceId,
    used: used.toString(),
    allowance: s?.toString() ?? null,
    remaining: s ? (s.minus(used).isNegative() ? '0' : s.minus(used).toString()) : null,
    usedRatio: s && !s.isZero() ? used.div(s).toDecimalPlaces(4).toString() : '0',
    shared,
    usedByLine: byLine.toString(),
    planVersionId,
  };
}

/** A usage type's unit, rating's (UNIT_OF_USAGE_TYPE); a stored usage_type is text. */
const UNIT: Readonly<Record<string, string>> = UNIT_OF_USAGE_TYPE;

/**
 * Live usage of lines, each in its allowance period containing `at`. With `accounts`, only what
 * was rated to those accounts, and no plan or pool of a subscription held by another account then
 * (a pool shows every line of its account: the previous holder's other lines).
 */
async function views(usage: UsageRuntime, keys: LinePeriod[], at: Date, keepEmpty: boolean, accounts?: readonly string[]): Promise<LineUsageView[]> {
  const rows = await sums(usage.sql, keys, accounts);
  const result: LineUsageView[] = [];
  for (const key of keys) {
    const ofKey = rows.filter((r) => r.line_id === key.lineId && r.period === key.period.period);
    const mine = ofKey.filter((r) => r.usage_type !== null);
    if (mine.length === 0 && !keepEmpty) continue;
    // Units wallets rolled over into the line's period, per allowance: part of its size.
    const rolledOver = new Map(ofKey.flatMap((r) => (r.usage_type === null && r.allowance_id ? [[r.allowance_id, r.units] as const] : [])));
    const v: LineUsageView = { lineId: key.lineId, period: key.period.period, periodStart: key.period.start, periodEnd: key.period.end, totals: [], allowances: [], spend: '0', events: 0, updatedAt: null };
    const types = new Map<string, { quantity: ReturnType<typeof dec>; events: number }>();
    const buckets = new Map<string, ReturnType<typeof dec>>();
    let spend = dec('0');
    for (const r of mine) {
      spend = spend.plus(r.spend);
      v.events += Number(r.events);
      if (!v.updatedAt || (r.updated_at && r.updated_at > v.updatedAt)) v.updatedAt = r.updated_at;
      const t = types.get(r.usage_type!) ?? { quantity: dec('0'), events: 0 };
      t.quantity = t.quantity.plus(r.units);
      t.events += Number(r.events);
      types.set(r.usage_type!, t);
      if (r.allowance_id) buckets.set(r.allowance_id, (buckets.get(r.allowance_id) ?? dec('0')).plus(r.from_allowance));
    }
    v.spend = spend.toString();
    v.totals = [...types].sort(([a], [b]) => a.localeCompare(b)).map(([usageType, t]) => ({ usageType, unit: UNIT[usageType] ?? 'ITEM', quantity: t.quantity.toString(), events: t.events }));
    // Sizes of the allowances from the plan in force at the moment asked about; every allowance of
    // the plan is listed. A shared allowance shows the account pool (in the pool's period: it runs
    // from the account's first subscription): what all lines used, what is left for all.
    const line = await usage.directory.load(key.lineId);
    const held = line ? versionAt(line, at) : undefined;
    const version = held && (!accounts || accounts.includes(held.billingAccountId)) ? held : undefined;
    const plan = version ? await usage.plans.get(version.planVersionId).catch(() => undefined) : undefined;
    if (plan?.ok) for (const a of plan.rater.compiled.plan.allowances) if (!buckets.has(a.id)) buckets.set(a.id, dec('0'));
    // An add-on's allowance: the purchase in force at `at` (else the last one of the period before
    // it), over that purchase's validity, as wallets keeps one bucket per purchase; a pass bought
    // twice in the period is not shown used up by the first one.
    const purchases = version && plan?.ok && version.addOns.length > 0 ? addOnPurchasesShown(key.lineId, version.addOns, at, key.period.start, addOnAllowancesOf(plan.rater, usage.plans.knownOffers())) : undefined;
    if (purchases?.size) {
      const used = await loadAddOnCounters(usage.sql, [...purchases.values()], accounts);
      for (const p of purchases.values()) buckets.set(p.allowanceId, used.get(p.key)?.get(p.allowanceId)?.used ?? dec('0'));
    }
    const shared = plan?.ok ? sharedAllowancesOf(plan.rater, usage.plans.knownOffers()) : new Set<string>();
    let pools: Map<string, PoolSum> | undefined;
    if (shared.size > 0 && version && plan?.ok) {
      const poolPeriod = poolPeriodAt(await usage.directory.poolMembers(version.billingAccountId, version.planVersionId), feePeriodOf(plan.rater), at) ?? key.period;
      pools = (await poolSums(usage.sql, [{ billingAccountId: version.billingAccountId, planVersionId: version.planVersionId, period: poolPeriod }])).get(poolKeyOf(version.billingAccountId, version.planVersionId, poolPeriod.period));
    }
    v.allowances = [...buckets].sort(([a], [b]) => a.localeCompare(b)).map(([allowanceId, used]) => {
      const isShared = shared.has(allowanceId);
      // The plan's size plus what rolled over into the period (the pool's for a shared allowance).
      const planSize = plan?.ok ? allowanceSizeOf(plan.rater, allowanceId, usage.plans.knownOffers()) : undefined;
      const carried = isShared ? pools?.get(allowanceId)?.rollover : rolledOver.get(allowanceId);
      const size = planSize && carried ? dec(planSize).plus(carried).toString() : planSize;
      return allowanceView(allowanceId, isShared ? dec(pools?.get(allowanceId)?.used ?? '0') : used, used, size, isShared, version?.planVersionId ?? null);
    });
    result.push(v);
  }
  return result;
}

/** The allowance period of the line containing `at`: its subscription's then (the calendar month without one). */
async function periodOfLine(usage: UsageRuntime, lineId: string, at: Date): Promise<AllowancePeriod> {
  const line = await usage.directory.load(lineId);
  const version = line ? versionAt(line, at) : undefined;
  if (!line || !version) return calendarMonthAt(at);
  const plan = await usage.plans.get(version.planVersionId).catch(() => undefined);
  return linePeriodAt(line, version, plan?.ok ? feePeriodOf(plan.rater) : undefined, at);
}

/**
 * `period`: the day a period starts (its name), an instant in it, or nothing for the current one.
 * `accounts`: a customer's own accounts; the line's records rated to any other account (it held
 * the line before, or after) are not summed. Staff pass nothing and see every record of the line.
 */
export async function lineUsage(usage: UsageRuntime, lineId: string, period: string | null | undefined, now: Date, accounts?: readonly string[]): Promise<LineUsageView> {
  const at = periodQueryInstant(period, now);
  return (await views(usage, [{ lineId, period: await periodOfLine(usage, lineId, at) }], at, true, accounts))[0];
}

/** Every line of the account that has usage in its own allowance period containing the moment asked about. */
export async function accountUsage(usage: UsageRuntime, billingAccountId: string, period: string | null | undefined, now: Date) {
  const at = periodQueryInstant(period, now);
  const { rows } = await usage.sql.query<{ line_id: string }>(`select line_id from ${ACCOUNT_LINES} as a(line_id) where line_id is not null order by line_id`, [billingAccountId]);
  await usage.directory.prefetch(rows.map((r) => r.line_id), []); // every line in two queries, not two per line
  const keys: LinePeriod[] = [];
  for (const r of rows) keys.push({ lineId: r.line_id, period: await periodOfLine(usage, r.line_id, at) });
  // Only this account's records: a line it had before another account took it over shows its time here.
  const lines = keys.length ? await views(usage, keys, at, false, [billingAccountId]) : [];
  // The account's shared pools, once each (each line lists its pool too, with its own draw): one
  // per allowance and plan version, as wallets keeps them, so members on two versions of a plan
  // show two pools.
  const pools = new Map<string, AllowanceView>();
  for (const l of lines) {
    for (const a of l.allowances) {
      const key = `${a.allowanceId}\u0000${a.planVersionId}`;
      if (a.shared && !pools.has(key)) pools.set(key, { ...a, usedByLine: a.used });
    }
  }
  return { billingAccountId, period: at.toISOString().slice(0, 10), lines, allowances: [...pools.values()], spend: lines.reduce((s, l) => s.plus(l.spend), dec('0')).toString(), events: lines.reduce((s, l) => s + l.events, 0) };
}
