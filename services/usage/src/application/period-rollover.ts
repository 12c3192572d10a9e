/**
 * Units wallets rolled over into an allowance period (bundle.renewed `rollover`): stored per line
 * (or shared pool) and period, and counted in the allowance's size by live usage (the counters'
 * `Bucket.rollover`, Line.usage's `allowance` and `remaining`, the thresholds). Wallets carries them
 * into a bucket of the new period drawn first, so without them usage saw less than the customer had.
 */
import { dec, type BucketRolledOverData, type BundleRenewedData, type BundleRolloverData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';

/** The owner of a line's rolled-over units: the line (as its counters, see CounterStore). */
export const lineRolloverOwner = (lineId: string): string => lineId;

/** The owner of a shared pool's rolled-over units: the account's pool of a plan version (poolKeyOf without its period). */
export const poolRolloverOwner = (billingAccountId: string, planVersionId: string): string => `pool:${billingAccountId}|${planVersionId}`;

/**
 * The rollover entries of a bundle.renewed worth keeping: an allowance id and a positive decimal
 * quantity. Anything else is left out (an event from before the field existed has none). An entry
 * without `shared` (wallets added it with the field's contract) is taken as the line's.
 */
export function rolloverEntriesOf(data: Partial<BundleRenewedData>): BundleRolloverData[] {
  if (!Array.isArray(data.rollover)) return [];
  const out: BundleRolloverData[] = [];
  for (const r of data.rollover as unknown[]) {
    const e = r as Partial<BundleRolloverData> | null;
    if (!e || typeof e.allowanceId !== 'string' || !e.allowanceId || e.allowanceId.length > 64 || typeof e.quantity !== 'string') continue;
    let q;
    try {
      q = dec(e.quantity);
    } catch {
      continue;
    }
    if (!q.isFinite() || !q.greaterThan(0) || q.decimalPlaces() > 6 || q.greaterThanOrEqualTo('1e14')) continue;
    out.push({ allowanceId: e.allowanceId, quantity: q.toFixed(), shared: e.shared === true });
  }
  return out;
}

/**
 * Keeps what a renewal rolled over into the period starting at `periodStart`: a per-line
 * allowance's under the line, a shared one's under the account's pool of the plan version (only
 * the renewal that opened the pool carries any). Idempotent (a redelivery writes nothing).
 */
export async function recordRollover(sql: Sql, d: { subscriptionId: string; lineId: string; billingAccountId?: string; planVersionId?: string }, periodStart: Date, entries: BundleRolloverData[]): Promise<number> {
  const rows = entries.flatMap((e) => {
    if (!e.shared) return [[lineRolloverOwner(d.lineId), e.allowanceId, e.quantity]];
    return d.billingAccountId && d.planVersionId ? [[poolRolloverOwner(d.billingAccountId, d.planVersionId), e.allowanceId, e.quantity]] : [];
  });
  if (rows.length === 0) return 0;
  const { rowCount } = await sql.query(
    `insert into period_rollover (owner, allowance_id, period_start, quantity, subscription_id)
     select o, a, $4, q::numeric, $5 from unnest($1::text[], $2::text[], $3::text[]) as r(o, a, q)
     on conflict (owner, allowance_id, period_start) do nothing`,
    [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), periodStart, d.subscriptionId],
  );
  return rowCount ?? 0;
}

/**
 * Keeps what wallets' bucket.rolledover says a period's rollover bucket holds (a pool renewed on its
 * own cadence, a rollover made or grown by a session's close): the bucket's whole quantity so far,
 * which only grows, so the largest figure seen per owner, allowance and period is kept. A
 * redelivery or a repeat changes nothing; a later, larger figure (units another close carried)
 * replaces the smaller one, bundle.renewed's included, whatever order they come in. Returns
 * whether the figure changed (the counters need a reload).
 */
export async function recordRolledOver(sql: Sql, d: BucketRolledOverData): Promise<boolean> {
  const owner = d.shared ? poolRolloverOwner(d.billingAccountId, d.planVersionId!) : lineRolloverOwner(d.lineId!);
  const { rowCount } = await sql.query(
    `insert into period_rollover (owner, allowance_id, period_start, quantity, subscription_id) values ($1, $2, $3, $4::numeric, $5)
     on conflict (owner, allowance_id, period_start) do update set quantity = excluded.quantity where period_rollover.quantity < excluded.quantity`,
    [owner, d.allowanceId, new Date(d.periodStart), d.quantity, d.subscriptionId ?? ''],
  );
  return (rowCount ?? 0) > 0;
}
