/**
 * bucket.rolledover: units rolled over into an allowance period that no bundle.renewed announced
 * (a shared pool renewed on its own cadence, renewDueSharedPools; a rollover bucket made or grown
 * by a session's close, closeMany). Usage counts a period's rollover in the allowance's size, so
 * without it the customer saw less remaining than the ledger holds and was warned early.
 *
 * The event says the rollover bucket's whole quantity (initial_quantity: all carried into that
 * period so far, the renewal's part included), which only grows: the consumer keeps the largest
 * figure per owner, allowance and period, so a repeat or a redelivery adds nothing and a later,
 * larger figure amends a smaller one whatever the order. Its id is keyed by bucket and quantity.
 */
import type { BucketRolledOverData } from '@ledgerline/contracts';
import { eventRow, insertOutbox, type Sql } from '../persistence/sql';

interface RolloverBucketRow {
  id: string;
  billing_account_id: string;
  line_id: string | null;
  allowance_id: string;
  unit: string;
  initial_quantity: string;
  valid_from: Date;
  valid_to: Date;
  grant_key: string;
}

/** Who a rollover bucket's period belongs to, as known to the caller (else read from its grant key, see rolloverGrantKey). */
export interface RolloverToAnnounce {
  bucketId: string;
  subscriptionId?: string | null;
  planVersionId?: string | null;
}

/** Queues one bucket.rolledover per rollover bucket, with its quantity as it stands now (call after the write). */
export async function announceRollovers(sql: Sql, buckets: readonly RolloverToAnnounce[], now: Date): Promise<void> {
  if (buckets.length === 0) return;
  const known = new Map(buckets.map((b) => [b.bucketId, b]));
  const rows = await sql.query<RolloverBucketRow>(
    `select id, billing_account_id, line_id, allowance_id, unit, initial_quantity, valid_from, valid_to, grant_key from bucket where id = any($1::text[]) and carried_from is not null order by id`,
    [[...known.keys()]],
  );
  const events = rows.map((b) => rolledOverData(b, known.get(b.id)!));
  // A line's rollover grown by a close: its plan version is its subscription's.
  const unknown = [...new Set(events.filter((e) => !e.shared && !e.planVersionId && e.subscriptionId).map((e) => e.subscriptionId!))];
  if (unknown.length > 0) {
    const terms = new Map((await sql.query<{ subscription_id: string; plan_version_id: string }>(`select subscription_id, plan_version_id from subscription_term where subscription_id = any($1::text[])`, [unknown])).map((t) => [t.subscription_id, t.plan_version_id]));
    for (const e of events) if (!e.shared && !e.planVersionId && e.subscriptionId) e.planVersionId = terms.get(e.subscriptionId) ?? null;
  }
  await insertOutbox(sql, events.map((data) => eventRow('bucketRolledOver', data.bucketId, [data.bucketId, data.quantity], now, data)));
}

function rolledOverData(b: RolloverBucketRow, k: RolloverToAnnounce): BucketRolledOverData {
  const shared = b.line_id === null;
  const tail = `:${b.allowance_id}:${b.valid_from.toISOString()}`;
  // A pool's key is `rollover:shared:<account>:<planVersion>:<allowance>:<start>`, a line's `<subscription>:<allowance>:rollover:<start>`.
  const poolHead = `rollover:shared:${b.billing_account_id}:`;
  const planVersionId = k.planVersionId ?? (shared && b.grant_key.startsWith(poolHead) && b.grant_key.endsWith(tail) ? b.grant_key.slice(poolHead.length, -tail.length) : null);
  const lineTail = `:${b.allowance_id}:rollover:${b.valid_from.toISOString()}`;
  const subscriptionId = k.subscriptionId || (!shared && b.grant_key.endsWith(lineTail) ? b.grant_key.slice(0, -lineTail.length) : null);
  return {
    bucketId: b.id, billingAccountId: b.billing_account_id, lineId: b.line_id, subscriptionId: subscriptionId || null, planVersionId: planVersionId || null,
    allowanceId: b.allowance_id, shared, periodStart: b.valid_from.toISOString(), periodEnd: b.valid_to.toISOString(), quantity: b.initial_quantity, unit: b.unit,
  };
}
