/**
 * A ChargeResult from wallets settles a rated record's charge: APPLIED / PARTIAL / DENIED, what
 * the ledger actually took from allowances and money. Live counters are corrected from the
 * rating-time estimate to the ledger's figures (live usage sums prefer them). Idempotent: only a
 * charge still waiting (pending_charge) moves. The outcome is a charge_outcome row; the record's
 * own row is not written (migration …215000000_charge_outcomes).
 */
import { chargeResultsOf, type ChargeResult } from '@ledgerline/contracts';
import { arrayParam } from '@ledgerline/platform';
import { inSqlTransaction, type Sql, type SqlClient } from '../persistence/sql';
import { insertOutbox } from './outbox-rows';
import { spendAlertNoticesAfterCharges, type SpendAlertSet, type SpendRise } from './spend-alerts';

/** What charge_outcome can store of a ChargeResult: an amount as numeric(20,6), a reason of 64 characters. */
const STORABLE_AMOUNT = /^-?\d{1,14}(\.\d{1,6})?$/;
const OUTCOMES = new Set(['APPLIED', 'PARTIAL', 'DENIED']);
export const CHARGE_REASON_LENGTH = 64;

/**
 * A ChargeResult this service can settle a record with, or null. Checked one by one because the
 * batch is written by one statement: a single amount that is not a number failed it, and the
 * consumer retried that batch for ever while every other charge stayed PENDING. A longer reason
 * (wallets writes `RATING_FAILED: <problem>`) is cut to what the column holds, not refused.
 */
export function storableChargeResult(r: ChargeResult): ChargeResult | null {
  if (!OUTCOMES.has(r.outcome)) return null;
  for (const amount of [r.amountCharged, r.unitsFromAllowances]) if (amount != null && (typeof amount !== 'string' || !STORABLE_AMOUNT.test(amount))) return null;
  if (r.reason != null && typeof r.reason !== 'string') return null;
  return r.reason && r.reason.length > CHARGE_REASON_LENGTH ? { ...r, reason: r.reason.slice(0, CHARGE_REASON_LENGTH) } : r;
}

/**
 * The ChargeResults of one chargeApplied message (one, or a batch) that can be stored; `refused`:
 * the requests wallets REJECTED (a chargeId it knows for another charge: nothing was charged, and
 * nothing settles the record); `invalid` counts the entries that are neither (not ChargeResults,
 * or not storable). Null when it is not JSON.
 */
export function parseChargeResults(text: string): { results: ChargeResult[]; refused: ChargeResult[]; invalid: number } | null {
  let parsed: { results: ChargeResult[]; invalid: number };
  try {
    parsed = chargeResultsOf(JSON.parse(text));
  } catch {
    return null;
  }
  const results: ChargeResult[] = [];
  const refused: ChargeResult[] = [];
  for (const r of parsed.results) {
    if (r.outcome === 'REJECTED') refused.push(r);
    else {
      const storable = storableChargeResult(r);
      if (storable) results.push(storable);
    }
  }
  return { results, refused, invalid: parsed.invalid + parsed.results.length - results.length - refused.length };
}

/**
 * The spend alerts a batch of ChargeResults is checked against: a result whose ledger figure is above the rating's
 * estimate raises its account's spend, and may take it to an alert no rated event will tell (the customer may use
 * nothing more in the period).
 */
export interface SpendAlertCheck {
  /** The accounts' alerts (only accounts that have any), as the rating path caches them (UsagePipeline.spendAlertSetsOf). */
  setsOf(accounts: Iterable<string>): Promise<Map<string, SpendAlertSet>>;
  now: Date;
}

const SETTLE_INPUT = `r as (select * from unnest($1::text[], $2::text[], $3::numeric[], $4::numeric[], $5::text[], $6::numeric[]) as r(id, outcome, amount, units, reason, granted))`;
const SETTLED = `settled as (
       insert into charge_outcome (usage_record_id, outcome, amount_charged, units_from_allowances, reason, granted_units)
       select r.id, r.outcome, r.amount, r.units, r.reason, r.granted from r join waiting w on w.usage_record_id = r.id
       on conflict (usage_record_id) do nothing
       returning usage_record_id, outcome, amount_charged, units_from_allowances
     )`;
const SETTLED_ROWS = `select w.usage_record_id as id, w.line_id, w.billing_account_id, (coalesce(w.spend, 0) <> s.amount_charged or coalesce(w.from_allowance, 0) <> s.units_from_allowances) as differs, s.outcome
       from settled s join waiting w on w.usage_record_id = s.usage_record_id`;

// Neither written nor read: the record (a new version of its wide row cost about twice this whole statement). Its
// charge comes off the sweeper's work list, which holds what the result is compared with (only a waiting one: that
// delete makes a redelivery a no-op and serialises two deliveries of one result), and its outcome is inserted, once.
const SETTLE = `with ${SETTLE_INPUT},
     waiting as (delete from pending_charge p using r where p.usage_record_id = r.id returning p.usage_record_id, p.line_id, p.billing_account_id, p.spend, p.from_allowance),
     ${SETTLED}
     ${SETTLED_ROWS}`;

// The charges of accounts with spend alerts ($7) whose ledger figure is above the estimate (the spend rises) are held
// back, still waiting, and answered (`held`, with the record's occurred_at: its bill period) to be settled with their
// alert check; the others settle as in SETTLE, and so cost no statement more.
const RISES = `p.billing_account_id = any($7::text[]) and r.amount > coalesce(p.spend, 0)`;
const SETTLE_HOLDING_RISES = `with ${SETTLE_INPUT},
     waiting as (delete from pending_charge p using r where p.usage_record_id = r.id and not (${RISES}) returning p.usage_record_id, p.line_id, p.billing_account_id, p.spend, p.from_allowance),
     ${SETTLED}
     select x.*, false as held, null::timestamptz as occurred_at from (${SETTLED_ROWS}) x
     union all
     select p.usage_record_id, p.line_id, p.billing_account_id, true, null, true, u.occurred_at
       from pending_charge p join r on r.id = p.usage_record_id join usage_record u on u.id = p.usage_record_id where ${RISES}`;

interface SettledRow {
  id: string;
  line_id: string;
  billing_account_id: string;
  differs: boolean;
  outcome: string;
  held?: boolean;
  occurred_at?: Date | null;
}

/** SETTLE's parameters, each written as its literal in one pass (arrayParam): a batch is thousands of results. */
const settleParams = (list: readonly ChargeResult[]): unknown[] =>
  [
    list.map((r) => r.chargeId),
    list.map((r) => r.outcome),
    list.map((r) => (r.outcome === 'DENIED' ? '0' : (r.amountCharged ?? '0'))),
    list.map((r) => (r.outcome === 'DENIED' ? '0' : (r.unitsFromAllowances ?? '0'))),
    list.map((r) => r.reason ?? null),
    // The units the ledger granted (fewer than charged on a PARTIAL charge): a re-rate prices these.
    list.map((r) => (r.outcome === 'DENIED' ? '0' : typeof r.units === 'string' && STORABLE_AMOUNT.test(r.units) ? r.units : null)),
  ].map(arrayParam);

/**
 * Settles the held-back charges (SETTLE_HOLDING_RISES) in one transaction with the SPEND_ALERT notices their higher
 * ledger figures reach: both are committed, or neither (a redelivery finds them waiting and checks again).
 */
async function settleRises(sql: Sql, held: readonly SettledRow[], byId: ReadonlyMap<string, ChargeResult>, alerts: SpendAlertCheck, sets: ReadonlyMap<string, SpendAlertSet>): Promise<{ rows: SettledRow[]; notices: number }> {
  const occurredAt = new Map(held.map((h) => [h.id, h.occurred_at!]));
  return inSqlTransaction(sql, async (db) => {
    const { rows } = await db.query<SettledRow>(SETTLE, settleParams(held.map((h) => byId.get(h.id)!)));
    const rises = rows.map((r) => ({ usageRecordId: r.id, billingAccountId: r.billing_account_id, occurredAt: new Date(occurredAt.get(r.id)!) }));
    return { rows, notices: await tellSpendRises(db, rises, alerts, sets) };
  });
}

/**
 * The one alert check of settled ChargeResults that raised the spend (a record's charge above its estimate, a re-rate
 * adjustment above what it asked): writes, in `db` (the transaction settling them), the SPEND_ALERT notices their bill
 * periods now reach (spendAlertNoticesAfterCharges: the rating path's notice ids). Returns how many were written.
 */
async function tellSpendRises(db: SqlClient, rises: readonly SpendRise[], alerts: SpendAlertCheck, sets: ReadonlyMap<string, SpendAlertSet>): Promise<number> {
  if (rises.length === 0) return 0;
  return insertOutbox(db, await spendAlertNoticesAfterCharges(db, rises, sets, alerts.now));
}

/**
 * Many ChargeResults in one statement (the consumer's batch). Returns the lines whose
 * ledger figures differ from the rating-time estimate (their live counters must be reloaded;
 * when the ledger agrees with the estimate, nothing needs reloading), how many records each
 * outcome settled (a result for a charge already settled, or not a record's, settles nothing; a
 * re-rate adjustment's result settles its rerate_adjustment row, not counted here), and how many
 * SPEND_ALERT notices were written: with `alerts`, a result of an account with alerts whose ledger
 * figure is above the estimate (a record's charge, settleRises; a re-rate adjustment's, settleRerateAdjustments)
 * is settled in a transaction that tells the alerts its bill period's spend now reaches. Other results cost the
 * one statement; an account without alerts the cached "no alerts" (`alerts.setsOf`).
 */
export async function applyChargeResults(sql: Sql, results: ChargeResult[], alerts?: SpendAlertCheck): Promise<{ moved: { lineId: string; billingAccountId: string }[]; settled: Map<string, number>; notices: number }> {
  const byId = new Map(results.map((r) => [r.chargeId, r]));
  const list = [...byId.values()];
  if (list.length === 0) return { moved: [], settled: new Map(), notices: 0 };
  const sets = alerts ? await alerts.setsOf(list.map((r) => r.billingAccountId)) : new Map<string, SpendAlertSet>();
  let rows: SettledRow[];
  let notices = 0;
  if (sets.size === 0) rows = (await sql.query<SettledRow>(SETTLE, settleParams(list))).rows;
  else {
    rows = (await sql.query<SettledRow>(SETTLE_HOLDING_RISES, [...settleParams(list), arrayParam([...sets.keys()])])).rows;
    const held = rows.filter((r) => r.held);
    if (held.length > 0) {
      const risen = await settleRises(sql, held, byId, alerts!, sets);
      rows = [...rows.filter((r) => !r.held), ...risen.rows];
      notices = risen.notices;
    }
  }
  const moved = new Map<string, { lineId: string; billingAccountId: string }>();
  const settled = new Map<string, number>();
  for (const rec of rows) {
    if (rec.differs) moved.set(rec.line_id, { lineId: rec.line_id, billingAccountId: rec.billing_account_id });
    settled.set(rec.outcome, (settled.get(rec.outcome) ?? 0) + 1);
  }
  // Not a record's charge: maybe a re-rate's adjustment (rerate_adjustment), settled here too.
  const records = new Set(rows.map((rec) => rec.id));
  const adjusted = await settleRerateAdjustments(sql, list.filter((r) => !records.has(r.chargeId)), alerts, sets);
  for (const line of adjusted.moved) moved.set(line.lineId, line);
  return { moved: [...moved.values()], settled, notices: notices + adjusted.notices };
}

const ADJUSTMENT_INPUT = `r as (select * from unnest($1::text[], $2::text[], $3::numeric[], $4::text[], $5::numeric[]) as r(id, outcome, amount, reason, moved))`;

// Each PENDING adjustment (only: a redelivery settles nothing) of the results, and not `held`, takes its outcome, and
// its record what the ledger now holds for it (see settleRerateAdjustments); `done` answers the records. `rises`: the
// ledger took more than the adjustment asked (the re-rate counted the spend at what it asked).
const settlingAdjustments = (held: string) => `${ADJUSTMENT_INPUT},
     settled as (
       update rerate_adjustment a set status = r.outcome, amount_charged = r.amount, reason = r.reason
         from r where a.charge_id = r.id and a.status = 'PENDING' and not (${held})
        returning a.usage_record_id, a.previous_charged, a.amount, r.amount as taken, r.moved,
          (select coalesce(sum((m->>'units')::numeric), 0) from jsonb_array_elements(coalesce(a.charge::jsonb->'allowanceMoves', '[]'::jsonb)) m) as asked,
          -- Denied: nothing moved, so the units stay where the ledger drew them, the allowance the give-back named.
          case when r.outcome = 'DENIED' then (select m->>'allowanceId' from jsonb_array_elements(coalesce(a.charge::jsonb->'allowanceMoves', '[]'::jsonb)) m
                                               where (m->>'units')::numeric < 0 limit 1) end as kept_allowance
     ),
     units as (
       select s.usage_record_id, s.previous_charged + s.taken as charged, s.kept_allowance,
              s.taken <> s.amount or s.moved <> s.asked or s.kept_allowance is distinct from null and s.kept_allowance is distinct from u.allowance_id as differs, s.taken > s.amount as rises,
              case when s.asked <> 0 or s.moved <> 0 or s.kept_allowance is not null then coalesce(u.units_from_allowances + s.moved, coalesce(u.from_allowance, 0) - s.asked + s.moved) end as from_allowances
         from settled s join usage_record u on u.id = s.usage_record_id
     ),
     outcome as (
       update charge_outcome o set amount_charged = x.charged, units_from_allowances = coalesce(x.from_allowances, o.units_from_allowances)
         from units x where o.usage_record_id = x.usage_record_id
     ),
     done as (
       update usage_record u set amount_charged = x.charged, units_from_allowances = coalesce(x.from_allowances, u.units_from_allowances),
         allowance_id = coalesce(x.kept_allowance, u.allowance_id) from units x where u.id = x.usage_record_id
       returning u.id, u.line_id, u.billing_account_id, u.occurred_at, x.differs, x.rises
     )`;

const SETTLE_ADJUSTMENTS = `with ${settlingAdjustments('false')} select * from done`;

// The adjustments of accounts with spend alerts ($6) the ledger took more for than they asked (the spend rises past
// what the re-rate counted) are held back, still PENDING, and answered (`charge_id`) to be settled with their alert
// check; the others settle as in SETTLE_ADJUSTMENTS, and so cost no statement more.
const ADJUSTMENT_RISES = `a.billing_account_id = any($6::text[]) and r.amount > a.amount`;
const SETTLE_ADJUSTMENTS_HOLDING_RISES = `with ${settlingAdjustments(ADJUSTMENT_RISES)}
     select done.*, null::text as charge_id from done
     union all
     select null, null, a.billing_account_id, a.occurred_at, true, true, a.charge_id from rerate_adjustment a join r on a.charge_id = r.id
      where a.status = 'PENDING' and ${ADJUSTMENT_RISES}`;

interface SettledAdjustment {
  id: string | null;
  line_id: string | null;
  billing_account_id: string;
  occurred_at: Date;
  differs: boolean;
  rises: boolean;
  /** Held back (SETTLE_ADJUSTMENTS_HOLDING_RISES): the adjustment's chargeId. */
  charge_id?: string | null;
}

const adjustmentParams = (results: readonly ChargeResult[]): unknown[] =>
  [
    results.map((r) => r.chargeId),
    results.map((r) => r.outcome),
    results.map((r) => (r.outcome === 'DENIED' ? '0' : (r.amountCharged ?? '0'))),
    results.map((r) => r.reason ?? null),
    // What the ledger moved of the allowances (a money-only adjustment: 0).
    results.map((r) => (r.outcome === 'DENIED' ? '0' : (r.unitsFromAllowances ?? '0'))),
  ].map(arrayParam);

/**
 * ChargeResults of re-rate adjustments (see rerate-period.ts): each PENDING adjustment takes its
 * outcome and the amount the ledger took (none when DENIED), and the record it adjusts holds what
 * the ledger now holds for it: what it held before the adjustment plus that amount (in its
 * charge_outcome row and on usage_record alike: see CHARGE_STATUS_OF in persistence/sql.ts). An
 * adjustment that moved allowance units (ADR 0019) sets the record's units_from_allowances to what
 * the ledger moved (unitsFromAllowances: drawn minus given back), not to what the re-rate asked:
 * the re-rate's estimate (from_allowance) less the units it asked to move plus those the ledger
 * moved (none when DENIED; fewer when the bucket no longer held them); for a record the ledger had
 * left short, whose draw the re-rate kept (units_from_allowances written by the re-rate, see
 * shortfallOf in rerate-period.ts), that draw plus those moved. Returns the lines whose live
 * counters this moves away from the re-rated estimate, and how many SPEND_ALERT notices were written.
 * The re-rate told the alerts its adjustments reach at what they asked: with `alerts`, an adjustment of
 * an account with alerts (`sets`) the ledger took more for is held back by the batch's statement and
 * settled in a transaction that tells the alerts its bill period's spend now reaches (tellSpendRises, as
 * for a record's charge above its estimate: settleRises). Other results cost the one statement.
 * Idempotent: only a PENDING adjustment moves.
 */
async function settleRerateAdjustments(sql: Sql, results: ChargeResult[], alerts: SpendAlertCheck | undefined, sets: ReadonlyMap<string, SpendAlertSet>): Promise<{ moved: { lineId: string; billingAccountId: string }[]; notices: number }> {
  if (results.length === 0) return { moved: [], notices: 0 };
  const alerted = alerts ? [...new Set(results.filter((r) => sets.has(r.billingAccountId)).map((r) => r.billingAccountId))] : [];
  let rows: SettledAdjustment[];
  let notices = 0;
  if (alerted.length === 0) rows = (await sql.query<SettledAdjustment>(SETTLE_ADJUSTMENTS, adjustmentParams(results))).rows;
  else {
    rows = (await sql.query<SettledAdjustment>(SETTLE_ADJUSTMENTS_HOLDING_RISES, [...adjustmentParams(results), arrayParam(alerted)])).rows;
    const held = new Set(rows.flatMap((r) => (r.charge_id ? [r.charge_id] : [])));
    if (held.size > 0) {
      // Settled with the notices they reach: both committed, or neither (a redelivery finds them PENDING and checks again).
      const risen = await inSqlTransaction(sql, async (db) => {
        const settled = (await db.query<SettledAdjustment>(SETTLE_ADJUSTMENTS, adjustmentParams(results.filter((r) => held.has(r.chargeId))))).rows;
        const rises = settled.filter((r) => r.rises).map((r) => ({ usageRecordId: r.id!, billingAccountId: r.billing_account_id, occurredAt: new Date(r.occurred_at) }));
        return { settled, notices: await tellSpendRises(db, rises, alerts!, sets) };
      });
      rows = [...rows.filter((r) => !r.charge_id), ...risen.settled];
      notices = risen.notices;
    }
  }
  return { moved: rows.filter((r) => r.differs && r.line_id).map((r) => ({ lineId: r.line_id!, billingAccountId: r.billing_account_id })), notices };
}
