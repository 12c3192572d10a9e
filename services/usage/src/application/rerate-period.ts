/**
 * Re-rating an account's period (a calendar month) after a catalog correction. A catalog correction
 * applies to whole allowance periods (ADR 0011: a bundle renewing on the 15th), and a record counts in
 * several (its line's, its plan's shared pool's, the add-on purchases in force), so the re-rate adjusts
 * every record connected to the month through them (domain/rerate-scope.ts: the periods overlapping the
 * month, every record counting in one, every other period such a record counts in, and so on), and
 * replays a range holding each of those periods whole: from the earliest start of the periods running
 * at the month's start or in scope to the latest end of those running at its end or in scope (not past
 * what usage can have accepted by now: now + the clock skew it accepts; `from`/`to` in the result). Under that rule re-rating every month once applies a correction
 * exactly once. Every record in scope is rated again, in
 * the order it was first rated (see REPLAY_ORDER), by the plan version in force at its time, or by the
 * corrected version named when that version is of the same plan (the other plans' records keep their
 * own version and are left as they are), with live counters rebuilt from the start of the range. The
 * range's other records (sharing no allowance period with a record in scope) are replayed only to
 * move the counters, as the ledger holds them: priced by the version
 * that priced them (not a correction named now) and drawing on their allowance what the ledger drew
 * for them. Where the money differs from what was charged, a delta
 * ChargeRequest goes to the ledger with a new deterministic chargeId (record id + rating version):
 * an adjustment, never a second charge. Running it again with the same catalog changes nothing.
 * Where the record draws on its allowance otherwise than the ledger drew for it (a correction moves
 * usage into or out of an allowance), the adjustment moves those units too (`allowanceMoves`, ADR
 * 0019: give-backs sent before draws), and its settlement counts what the ledger moved. A record the
 * ledger left short of its allowance (its bucket held fewer units than asked, the rest charged as
 * money) is settled: a re-rate keeps its draw and prices the rest as money at the re-rating's price,
 * so the same catalog adjusts nothing; it draws again only units the same re-rate gives back to that
 * bucket (shortfallOf; a top-up since is not drawn for a past record).
 * A record re-priced by a corrected version keeps the subscription's version as its
 * plan_version_id (what shared pools, live usage and invoices group by: wallets still draws that
 * version's pool); its rating trace names the version that priced it (and the subscription's). A later
 * re-rate without a named version keeps pricing it by that correction (correctionOf): a correction
 * stays in force for the records it priced until another one names another version of the plan.
 * Adjustments are made against what the ledger settled: a period with charges wallets has not
 * answered yet is refused (the delta's base would be a guess, and a credit could be given for a
 * charge wallets then denies), and a charge wallets denied has nothing to adjust.
 *
 * The replay follows the ledger too: a denied charge took nothing from the allowance and cost
 * nothing, a charge wallets cut short (PARTIAL) is priced for the units it granted, never for the
 * units it refused; what a prepaid session's units past their grant left unpaid (unpaid_amount) is those refused
 * units at the re-rating's price (unpaidAfterRerate), never adjusted - a DENIED one's too (all its units refused). Each adjustment is kept (rerate_adjustment) until its ChargeResult settles it
 * (apply-charge-result.ts); what the ledger holds for a record is its charge plus the adjustments
 * it took (amount_charged, in charge_outcome and on usage_record, once they are settled), and a period with an adjustment
 * not settled yet is refused like one with a charge not settled. The adjustment keeps its
 * ChargeRequest: one no ChargeResult answers in time is re-sent, same chargeId, by the charge
 * sweeper (sweep-charges.ts), so a lost message does not keep the month's re-rates refused.
 */
import { badInput, conflict, dec, Decimal, deterministicId, type AllowanceMove, type ChargeRequest } from '@ledgerline/contracts';
import type { RatingResult } from '@ledgerline/rating';
import { addOnPurchasesAt, addUsed, applyUsage, bucketOf, typeBucket, usageStateOf, type AddOnPurchase, type LineCounters } from '../domain/live-usage';
import { chargeAmountOf, ledgerMoneyFor } from '../domain/ledger-money';
import { linePeriodAt, monthPeriod, poolPeriodAt } from '../domain/period';
import type { AllowancePeriod, FeePeriod } from '@ledgerline/contracts';
import { rerateScope, type RerateScope, type ScopePeriod } from '../domain/rerate-scope';
import { versionAt, type LineInfo, type SubscriptionVersion } from '../domain/subscriber';
import { MAX_CLOCK_SKEW_MS, type UsageType } from '../domain/usage-input';
import { ACCOUNT_LINES, inSqlTransaction } from '../persistence/sql';
import type { UsageRuntime } from '../usage-runtime';
import type { PlanLookup } from './plan-cache';
import { chargeRequestRow, eventRow, insertOutbox, type OutboxRow } from './outbox-rows';
import { lineRolloverOwner, poolRolloverOwner } from './period-rollover';
import { addOnAllowancesOf, allowanceSizeOf, feePeriodOf, sharedAllowancesOf, traceOf, zoneOf } from './usage-pipeline';
import { spendAlertNoticesAfterRerate } from './spend-alerts';
import { lockBilledPeriods } from './mark-billed';

/**
 * When a record was rated for the ledger: the latest reprocessRejected that replaced it (it keeps
 * its first received_at, but was rated and charged at the reprocess; usage_rejection_history is
 * indexed by record), else received_at (a re-rate never rewrites either, unlike rated_at).
 */
const RATED_FOR_LEDGER_AT = `coalesce((select max(h.reprocessed_at) from usage_rejection_history h where h.record_id = usage_record.id), usage_record.received_at)`;

/**
 * The order usage rated the records in, which is the order wallets drew the allowances in: a late
 * CDR found the bundle used by the records rated before it and was charged as overage. Replayed
 * in event-time order instead, a re-rate with the same catalog would move the bundle onto the late
 * record (a credit on one record, a charge on another). The rating queue takes batches in call
 * order, so the order is RATED_FOR_LEDGER_AT's. Ties (one batch, or batches in the same
 * millisecond) are in event time here, then drawn as the ledger drew them (withinTiesAsDrawn).
 */
const REPLAY_ORDER = 'rated_for_ledger_at, occurred_at, id';

/** What wallets' ChargeResult settled (charge_outcome, joined as `o`), beside the record's own charge columns. */
const SETTLED_COLUMNS = 'o.outcome as settled_status, o.amount_charged as settled_amount, o.units_from_allowances as settled_units, o.granted_units as settled_granted';

/** The record's charge as readers see it: its outcome where wallets answered (see CHARGE_STATUS_OF in persistence/sql.ts). */
function withOutcome(r: Row): void {
  if (r.settled_status === null) return;
  r.charge_status = r.settled_status;
  r.amount_charged = r.settled_amount ?? r.amount_charged;
  r.units_from_allowances = r.settled_units ?? r.units_from_allowances;
  r.granted_units = r.settled_granted ?? r.granted_units;
}

export interface RerateCommand {
  billingAccountId: string;
  period: string;
  planVersionId?: string | null;
}

export interface RerateAdjustment {
  usageRecordId: string;
  chargeId: string;
  previousPrice: string;
  newPrice: string;
  deltaUnits: string;
}

interface Row {
  id: string;
  line_id: string;
  usage_type: UsageType;
  direction: 'OUTGOING' | 'INCOMING';
  quantity: string;
  /** An online session's later report: the session's units before it (rated as a part of that call). */
  preceding_quantity: string | null;
  unit: string;
  occurred_at: Date;
  called_number: string | null;
  roaming_country: string | null;
  visited_mcc: string | null;
  charge_status: string;
  amount_charged: string | null;
  price: string;
  charged_units: string;
  /** ChargeResult.units: what the ledger granted of charged_units (fewer when PARTIAL); null before it answered. */
  granted_units: string | null;
  /** A prepaid session's units past its grant: the money of the units the ledger refused (chargePastGrant); null for every other record. */
  unpaid_amount: string | null;
  rating: { estimate?: { spend: string }; chargedTotal?: string; overage?: unknown } | string | null;
  rating_version: number;
  source: string;
  event_id: string;
  plan_version_id: string | null;
  /** RATED_FOR_LEDGER_AT. */
  rated_for_ledger_at: Date;
  allowance_id: string | null;
  /** Usage's estimate of the units its allowance covered; units_from_allowances: the ledger's, once settled. */
  from_allowance: string | null;
  units_from_allowances: string | null;
  /** charge_outcome's columns (null before wallets answered); withOutcome folds them into the ones above. */
  settled_status: string | null;
  settled_amount: string | null;
  settled_units: string | null;
  settled_granted: string | null;
}

/** An adjustment decided (`adjust` in reratePeriod), its ChargeRequest made when it is written (the invoice it adjusts read then). */
interface Adjusting {
  x: Rerated;
  chargeId: string;
  version2: number;
  delta: string;
  moves: AllowanceMove[];
  allowOverdraft: boolean;
}

/** A record of the month rated again, before its adjustment is decided (see `adjust` in reratePeriod). */
interface Rerated {
  r: Row;
  result: RatingResult;
  lineId: string;
  version: SubscriptionVersion;
  inForce: SubscriptionVersion;
  occurredAt: Date;
  /** The units the re-rating draws from its allowance, and the money of the units it does not. */
  fromAllowance: string;
  newSpend: string;
  /** What the ledger holds for the record. */
  oldSpend: string;
  /** The corrected price of units of the record outside its allowance (a draw's uncoveredAmount). */
  uncovered: (units: Decimal) => Decimal;
  zone: () => string;
  allowOverdraftByPlan: boolean;
}

export async function reratePeriod(usage: UsageRuntime, c: RerateCommand, now: Date) {
  const p = monthPeriod(c.period, now, 'input.period');
  if (!c.billingAccountId) throw badInput('input.billingAccountId', 'billingAccountId is required');
  return usage.pipeline.exclusive(async () => {
    // The corrected version prices the records of its own plan only: another line's plan, or the
    // line's plan before a plan change in the month, keeps its own prices.
    const corrected = c.planVersionId ? await usage.plans.get(c.planVersionId) : undefined;
    if (corrected && !corrected.ok) throw badInput('input.planVersionId', corrected.reason, corrected.code);
    // The range re-rated: the allowance periods running at the month's start and end, widened until it holds every
    // allowance period of the records in scope (rerateScope: the records connected to the month through the allowance
    // periods they count in), so each of those periods is replayed whole.
    let from = await countingFrom(usage, c.billingAccountId, p.start);
    let to = await countingTo(usage, c.billingAccountId, p.end, now);
    const periodsOf = new Map<string, RecordPeriods | undefined>();
    let rows: Row[];
    let scope: RerateScope;
    for (;;) {
      rows = (await usage.sql.query<Row>(
        `select usage_record.*, ${RATED_FOR_LEDGER_AT} as rated_for_ledger_at, ${SETTLED_COLUMNS}
           from usage_record left join charge_outcome o on o.usage_record_id = usage_record.id
          where line_id in ${ACCOUNT_LINES} and billing_account_id = $1 and occurred_at >= $2 and occurred_at < $3 and status in ('RATED', 'RERATED', 'BILLED') order by ${REPLAY_ORDER}`,
        [c.billingAccountId, from, to],
      )).rows;
      for (const r of rows) if (!periodsOf.has(r.id)) periodsOf.set(r.id, await recordPeriodsOf(usage, r, corrected));
      scope = rerateScope(rows.map((r) => ({ id: r.id, periods: scopePeriodsOf(r, periodsOf.get(r.id)) })), p);
      // Not past what usage can have accepted by now (now + the clock skew it accepts), as countingTo.
      const end = scope.end ? notPastNow(scope.end, p.end, now) : to;
      if ((!scope.start || scope.start >= from) && end <= to) break;
      if (scope.start && scope.start < from) from = scope.start;
      if (end > to) to = end;
    }
    const range = `${p.period} (${from.toISOString()} - ${to.toISOString()}, the allowance periods connected to it)`;
    for (const r of rows) withOutcome(r);
    withinTiesAsDrawn(rows);
    // An earlier re-rate's adjustments not answered yet: what the ledger holds for their records is not known.
    const pendingAdjustments = (await usage.sql.query<{ n: number }>(
      `select count(*)::int as n from rerate_adjustment where billing_account_id = $1 and occurred_at >= $2 and occurred_at < $3 and status = 'PENDING'`,
      [c.billingAccountId, from, to],
    )).rows[0]?.n ?? 0;
    if (pendingAdjustments > 0) {
      throw conflict('RERATE_ADJUSTMENTS_PENDING', `${pendingAdjustments} re-rate adjustments of ${range} still wait for wallets to settle them; re-rate once they are settled`, { field: 'input.period' });
    }
    // Per line and allowance period; the account's shared pools per plan version and pool period, as
    // wallets keeps them (every line on that version draws from them).
    const counters = new Map<string, LineCounters>();
    const pools = new Map<string, LineCounters>();
    // Each add-on purchase on its own (wallets grants each its own bucket), by AddOnPurchase.key.
    const purchaseCounters = new Map<string, LineCounters>();
    // `seed` fills counters made here: the units wallets rolled over into their period, part of each allowance's size (as live usage counts them).
    const countersOf = (map: Map<string, LineCounters>, key: string, seed?: (c: LineCounters) => void) => {
      let made = map.get(key);
      if (!made) {
        map.set(key, (made = new Map()));
        seed?.(made);
      }
      return made;
    };
    const carried = await rolloversOf(usage, c.billingAccountId, rows, from, to);
    const seedRollover = (owner: string, period: AllowancePeriod | undefined) => (made: LineCounters) => {
      for (const x of carried) if (period && x.owner === owner && x.period_start >= period.start && x.period_start < period.end) bucketOf(made, x.allowance_id).rollover = dec(x.quantity);
    };
    const adjustments: RerateAdjustment[] = [];
    const updates: unknown[][] = [];
    // The adjustments' ChargeRequests, made in the transaction that writes them (the invoice each adjusts is read there).
    const toSend: Adjusting[] = [];
    const outbox: OutboxRow[] = [];
    // The thresholds, notifications and offers the replay of the records adjusted asks for in periods still running.
    const notices: OutboxRow[] = [];
    // Records the ledger left short of their allowance (shortfallOf), decided once every other record's moves are known;
    // `freed`: per ledger bucket, the units the other records' adjustments give back less those they draw.
    const leftShort: (Rerated & { short: Shortfall; bucket: string })[] = [];
    const freed = new Map<string, Decimal>();
    /**
     * The record's update and, where the ledger's figures change, its adjustment: `moves` the allowance units it
     * moves, `spend` the money the ledger is to hold for it, `keptUnits` the ledger's draw the record keeps (left
     * short: written as its units_from_allowances, which the adjustment's settlement adds what wallets moved to).
     */
    const adjust = (x: Rerated, moves: AllowanceMove[], spend: string, keptUnits: string | null) => {
      const { r, result, version, inForce, oldSpend } = x;
      const delta = dec(spend).minus(oldSpend);
      const samePrice = dec(result.price).eq(r.price ?? '0') && dec(result.chargedUnits).eq(r.charged_units ?? '0');
      // Stored under another version than the subscription's (a corrected version's id, as re-rates stored it
      // before): rewritten, so the record counts in its subscription's pool again.
      const sameVersion = r.plan_version_id === inForce.planVersionId;
      if (delta.isZero() && samePrice && sameVersion && moves.length === 0) return;
      const adjusting = !delta.isZero() || moves.length > 0;
      const version2 = r.rating_version + 1;
      // No chargedTotal: what the ledger holds after this version is known once its adjustment is settled.
      // The trace (dispute evidence) names the version that priced the record, and the subscription's beside a
      // corrected one (a later plain re-rate keeps that correction, see correctionOf); plan_version_id stays the subscription's.
      const unpaid = unpaidAfterRerate(x);
      const overage = (r.rating as { overage?: unknown } | null)?.overage;
      const trace = {
        ...traceOf(result, version.planVersionId), ...(version !== inForce ? { subscriptionPlanVersionId: inForce.planVersionId } : {}),
        estimate: { fromAllowance: x.fromAllowance, spend }, previous: { price: r.price, chargedTotal: oldSpend, ratingVersion: r.rating_version, ...(unpaid !== null ? { unpaidAmount: dec(r.unpaid_amount!).toFixed() } : {}) },
        // The report's figures (what the session was told, and its overageunpaid event): evidence, kept as they were.
        ...(overage !== undefined ? { overage } : {}),
      };
      // amount_charged: unchanged money stays what the ledger holds; with an adjustment, the estimate until it is settled.
      updates.push([r.id, result.price, result.chargedUnits, result.allowanceId ?? null, inForce.planVersionId, JSON.stringify(trace), version2, result.decision, x.fromAllowance, spend, adjusting ? null : oldSpend, keptUnits, unpaid]);
      if (!adjusting) return;
      const chargeId = deterministicId('usageRecord', r.id, 'rerate', String(version2));
      // A credit always goes through; a dearer price is collected as the plan collects any charge.
      const allowOverdraft = (delta.isNegative() && !moves.some((m) => dec(m.units).gt(0))) || version.paymentMode === 'POSTPAID' || x.allowOverdraftByPlan;
      toSend.push({ x, chargeId, version2, delta: delta.toString(), moves, allowOverdraft });
      adjustments.push({ usageRecordId: r.id, chargeId, previousPrice: dec(oldSpend).toString(), newPrice: spend, deltaUnits: dec(result.chargedUnits).minus(r.charged_units ?? '0').toString() });
    };
    // Records of the re-rate whose charges wallets has not settled yet (refused below: the delta's base would be a guess).
    let unsettled = 0;
    for (const r of rows) {
      if (typeof r.rating === 'string') r.rating = JSON.parse(r.rating);
      const periods = periodsOf.get(r.id);
      if (!periods) continue;
      const { line, inForce, inForcePlan, feePeriod, linePeriod, purchases } = periods;
      const occurredAt = new Date(r.occurred_at);
      // Adjusted by this re-rate: the records connected to the month through the allowance periods they count in
      // (rerateScope), whose periods the replay holds whole. A record was adjusted only when all its periods overlapped
      // the month: a pool's or a pass's period straddling the month's start was corrected half by one month's re-rate
      // and half by the other's, each half against the other as the ledger held it.
      // Any other record is replayed for the counters only (it shares no allowance period with a record adjusted), as the
      // ledger holds it: priced by the version that priced it, not by the correction named now, drawing what the ledger drew.
      const inScope = scope.ids.has(r.id);
      if (inScope && r.charge_status === 'PENDING') unsettled++;
      // A version's plan is the code of its catalog document (the subscription's planCode may name the plan otherwise).
      const correcting = inScope && corrected?.ok === true && inForcePlan.ok && inForcePlan.rater.compiled.code === corrected.rater.compiled.code;
      // Not named now: the correction an earlier re-rate priced the record by stays in force (a plain
      // re-rate would charge the uncorrected price back), as long as the subscription's version is the one it corrected.
      const kept = correcting ? undefined : correctionOf(r, inForce.planVersionId);
      const keptPlan = kept ? await usage.plans.get(kept) : undefined;
      if (keptPlan && !keptPlan.ok) throw conflict('RERATE_CORRECTION_UNAVAILABLE', `usage record ${r.id} was priced by the corrected plan version ${kept} (an earlier re-rate), which cannot be loaded: ${keptPlan.reason}; re-rate with planVersionId naming the version to price it by`, { field: 'input.planVersionId' });
      const pricedBy = correcting ? c.planVersionId! : kept ?? inForce.planVersionId;
      const version: SubscriptionVersion = pricedBy === inForce.planVersionId ? inForce : { ...inForce, planVersionId: pricedBy };
      const plan = correcting ? corrected! : keptPlan ?? inForcePlan;
      if (!plan.ok) throw badInput('input.planVersionId', plan.reason, plan.code);
      const lineCounters = countersOf(counters, `${r.line_id}|${linePeriod.period}`, seedRollover(lineRolloverOwner(r.line_id), linePeriod));
      const u = {
        source: r.source, eventId: r.event_id, lineId: r.line_id, usageType: r.usage_type, direction: r.direction, quantity: dec(r.quantity).toString(), unit: r.unit, occurredAt: new Date(r.occurred_at),
        ...(r.preceding_quantity !== null && !dec(r.preceding_quantity).isZero() ? { precedingQuantity: dec(r.preceding_quantity).toString() } : {}),
        ...(r.called_number ? { calledNumber: r.called_number } : {}), ...(r.roaming_country ? { roamingCountry: r.roaming_country } : {}), ...(r.visited_mcc ? { visitedMcc: r.visited_mcc } : {}),
      };
      const shared = sharedAllowancesOf(plan.rater, usage.plans.knownOffers());
      const poolPeriod = shared.size === 0 ? undefined : periods.pool ?? poolPeriodAt(await usage.directory.poolMembers(inForce.billingAccountId, inForce.planVersionId), feePeriod, occurredAt);
      // The pool of the subscription's plan version (wallets granted it), also when a corrected version is named.
      const pool = countersOf(pools, `${inForce.planVersionId}|${poolPeriod?.period ?? ''}`, seedRollover(poolRolloverOwner(inForce.billingAccountId, inForce.planVersionId), poolPeriod));
      const addOns = purchases ? new Map([...purchases.values()].map((b) => [b.allowanceId, countersOf(purchaseCounters, b.key)])) : undefined;
      const { result, rater, event, ctx } = await usage.pipeline.rateWith(plan.rater, u, r.id, line, version, lineCounters, shared.size > 0 ? pool : undefined, addOns);
      let newSpend = '0';
      let fromAllowance = '0';
      if (result.decision === 'RATED') {
        // What the ledger granted: nothing of a denied charge, part of a PARTIAL one. Only that draws
        // on the allowance and costs money; what it refused still counts as usage of its type (as in live usage).
        const granted = grantedUnitsOf(r, result.chargedUnits);
        const whole = dec(granted).eq(result.chargedUnits);
        const fromPool = result.allowanceId !== undefined && shared.has(result.allowanceId);
        const purchase = !fromPool && result.allowanceId !== undefined ? purchases?.get(result.allowanceId) : undefined;
        const applied = applyUsage(lineCounters, {
          // The money as the ledger takes it: the rated price pro rata of the units granted and not covered (ledgerMoneyFor).
          usageType: r.usage_type, chargedUnits: granted, price: result.price, allowanceId: result.allowanceId,
          allowanceSize: result.allowanceId !== undefined ? allowanceSizeOf(rater, result.allowanceId, usage.plans.knownOffers()) : undefined,
          ...(whole ? {} : { ofUnits: result.chargedUnits }),
        }, fromPool ? pool : purchase ? addOns!.get(purchase.allowanceId) : undefined);
        if (!whole) {
          const byType = bucketOf(lineCounters, typeBucket(r.usage_type));
          byType.used = byType.used.plus(dec(result.chargedUnits).minus(granted));
        }
        // Not adjusted here: the allowance counts what the ledger drew for the record (its settled units), which the
        // replay's draw may not be: a record its own re-rate left short (the bucket held fewer units by then).
        if (!inScope && result.allowanceId !== undefined && r.allowance_id === result.allowanceId && r.units_from_allowances !== null && r.charge_status !== 'PENDING') {
          addUsed(bucketOf(fromPool ? pool : purchase ? addOns!.get(purchase.allowanceId)! : lineCounters, result.allowanceId), dec(r.units_from_allowances).minus(applied.fromAllowance));
        }
        newSpend = applied.spend;
        fromAllowance = applied.fromAllowance;
        // A record this re-rate adjusts, in a period still running: what its replay crosses (a correction moving usage
        // into the bundle takes it past 80 %) is told as the event that crosses it tells it, with the plan's notify and
        // offer rules read on the usage with it counted (usage-pipeline.ts, rate). Each once: what was told before is in
        // emitted_event. A period already over tells nothing (as spend alerts after a re-rate).
        const running = linePeriod.end > now && (!fromPool || !poolPeriod || poolPeriod.end > now) && (!purchase || purchase.end > now);
        if (inScope && !(corrected && !correcting) && running) {
          const after = { ...ctx, ...usageStateOf(lineCounters, shared.size > 0 ? pool : undefined, shared.size > 0 ? shared : undefined, addOns) };
          const noticed = rater.tryNoticesAfterSync(result, event, after) ?? (await rater.noticesAfter(result, event, after));
          if (applied.crossed.length > 0 || noticed.notifications.length > 0 || noticed.offers.length > 0) {
            notices.push(...usage.pipeline.noticeEvents({
              id: r.id, line, version: inForce, linePeriod, poolPeriod, pool: shared.size > 0 ? pool : undefined, shared: fromPool, purchase, purchases,
              rater, offers: usage.plans.knownOffers(), result: noticed, crossed: applied.crossed, now,
            }));
          }
        }
      }
      // Not adjusted here: replayed only so the records adjusted see what their allowance periods had used.
      if (!inScope) continue;
      // Another plan's record in a re-rate correcting one plan: replayed for the counters only, left as it is.
      if (corrected && !correcting) continue;
      // Refused by the ledger (no balance, over the credit limit): nothing was charged, nothing to adjust. A session's
      // units past their grant that nothing paid (unpaid_amount) still restate that amount at the re-rating's price.
      const deniedOverage = r.charge_status === 'DENIED' && r.unpaid_amount !== null;
      if (r.charge_status === 'DENIED' && !deniedOverage) continue;
      // Cut short before the ledger's granted units were kept: what it granted is not known, nothing is adjusted.
      if (r.charge_status === 'PARTIAL' && r.granted_units === null) continue;
      // What the ledger holds for the record: its charge plus the adjustments it took (amount_charged;
      // chargedTotal only on records re-rated before adjustments were settled, the estimate before wallets answered).
      const prior = r.rating as { estimate?: { spend: string }; chargedTotal?: string } | null;
      const oldSpend = deniedOverage ? '0' : dec(r.amount_charged ?? prior?.chargedTotal ?? prior?.estimate?.spend ?? '0').toString();
      const uncovered = (units: Decimal) => ledgerMoneyFor(chargeAmountOf(result.price), dec(result.chargedUnits), units);
      const rerated: Rerated = {
        r, result, lineId: line.lineId, version, inForce, occurredAt, fromAllowance, newSpend, oldSpend, uncovered,
        zone: () => zoneOf(rater, result, u), allowOverdraftByPlan: Boolean(rater.compiled.plan.balancePolicy?.overdraftAllowed),
      };
      // Never adjusted (no money, no allowance moves: the ledger drew nothing): only its price and unpaid amount are restated.
      if (deniedOverage) {
        adjust(rerated, [], '0', null);
        continue;
      }
      // The ledger bucket an allowance of this record is drawn from: the account's pool, an add-on purchase's, or the line's, in its period.
      const bucket = (id: string) => (shared.has(id) ? `pool|${inForce.planVersionId}|${poolPeriod?.period ?? ''}|${id}` : purchases?.has(id) ? `purchase|${purchases.get(id)!.key}|${id}` : `line|${r.line_id}|${linePeriod.period}|${id}`);
      const short = result.decision === 'RATED' ? shortfallOf(r, result.allowanceId, dec(fromAllowance)) : undefined;
      if (short) {
        leftShort.push({ ...rerated, short, bucket: bucket(result.allowanceId!) });
        continue;
      }
      // The allowance units the re-rated record draws otherwise than the ledger drew for it (ADR 0019): the
      // adjustment draws or gives them back, so the ledger's buckets and the live counters stay one figure.
      const moves = result.decision === 'RATED' ? allowanceMovesOf(r, result.allowanceId, dec(fromAllowance), result.unit ?? r.unit, uncovered) : [];
      for (const m of moves) freed.set(bucket(m.allowanceId), (freed.get(bucket(m.allowanceId)) ?? dec('0')).minus(m.units));
      adjust(rerated, moves, newSpend, null);
    }
    if (unsettled > 0) {
      throw conflict('RERATE_CHARGES_PENDING', `${unsettled} usage records of ${range} still wait for wallets to settle their charges; re-rate once they are settled`, { field: 'input.period' });
    }
    // A record the ledger left short keeps what it drew: the units its bucket did not hold stay money, at the
    // re-rating's price (a same-catalog re-rate finds the ledger's figures and adjusts nothing; a top-up since is not
    // drawn for it). It draws only units this re-rate's other adjustments give back to that bucket (sent first), in replay order.
    for (const s of leftShort) {
      const free = Decimal.max(freed.get(s.bucket) ?? '0', '0');
      const take = Decimal.min(free, s.short.missing);
      freed.set(s.bucket, free.minus(take));
      const moves: AllowanceMove[] = take.gt(0) ? [{ allowanceId: s.result.allowanceId!, unit: s.result.unit ?? s.r.unit, units: take.toFixed(), uncoveredAmount: s.uncovered(take).toFixed() }] : [];
      adjust(s, moves, dec(s.newSpend).plus(s.uncovered(s.short.missing.minus(take))).toString(), s.short.drawn.toString());
    }
    const msisdns = new Map([...periodsOf.values()].flatMap((x) => (x ? [[x.line.lineId, x.line.msisdn] as const] : [])));
    await inSqlTransaction(usage.sql, async (db) => {
      // Invoices that already billed (part of) the range: a delta of an event they billed adjusts them (goes on the next
      // invoice, adjustsInvoiceId). Read here, under the account's bill lock (markPeriodBilled applies a bill under it):
      // read with the records, a bill applied while the re-rate ran was not seen, and the adjustment of a record it had
      // billed named no invoice. Now a bill is applied either before this read (named) or after this commit (it sees the
      // adjustments PENDING and leaves their records for the next invoice).
      await lockBilledPeriods(db, c.billingAccountId);
      const billed = (await db.query<{ invoice_id: string; period_start: Date; period_end: Date }>(
        'select invoice_id, period_start, period_end from billed_period where billing_account_id = $1 and period_start < $3 and period_end > $2',
        [c.billingAccountId, from, to],
      )).rows;
      const invoiceOf = (at: Date) => billed.find((b) => at >= new Date(b.period_start) && at < new Date(b.period_end))?.invoice_id ?? null;
      for (const u of updates) {
        // The ledger's figures live in charge_outcome once wallets answered: written there as on the record (see CHARGE_STATUS_OF).
        await db.query(
          `with outcome as (update charge_outcome set amount_charged = $11, units_from_allowances = $12 where usage_record_id = $1)
           update usage_record set status = 'RERATED', price = $2, charged_units = $3, allowance_id = $4, plan_version_id = $5, rating = $6, rating_version = $7, decision = $8,
             from_allowance = $9, spend = $10, amount_charged = $11, units_from_allowances = $12, unpaid_amount = $13, rated_at = $14 where id = $1`,
          [...u, now],
        );
      }
      for (const a of toSend) {
        const { r, lineId, version, result, occurredAt, oldSpend } = a.x;
        const request = chargeRequestRow(adjustmentCharge(a.chargeId, lineId, version, result, r, a.delta, a.moves, { zone: a.x.zone(), adjustsInvoiceId: invoiceOf(occurredAt) }, a.allowOverdraft), now);
        outbox.push(request);
        // The request is kept with the adjustment: the charge sweeper re-sends it while no ChargeResult settles it.
        await db.query(
          `insert into rerate_adjustment (charge_id, usage_record_id, billing_account_id, occurred_at, rating_version, previous_charged, amount, currency, status, created_at, charge)
           values ($1, $2, $3, $4, $5, $6, $7, $8, 'PENDING', $9, $10)`,
          [a.chargeId, r.id, c.billingAccountId, occurredAt, a.version2, oldSpend, a.delta, result.currency, now, request.payload],
        );
      }
      // Units given back before units drawn: wallets applies an account's charges in the order they come, so a
      // draw finds the units another record of the re-rate gives back (the replay moved them onto it).
      outbox.sort((a, b) => givesBack(b) - givesBack(a));
      if (updates.length) outbox.push(eventRow('usageRerated', c.billingAccountId, [c.billingAccountId, p.period, ...adjustments.map((a) => a.chargeId), String(updates.length)], { billingAccountId: c.billingAccountId, period: p.period, recordsRerated: updates.length, adjustments }, now));
      // Spend alerts the re-rated records now reach, told with the adjustments (committed together, or neither).
      if (updates.length) outbox.push(...(await spendAlertNoticesAfterRerate(db, c.billingAccountId, { from, to }, (lineId) => msisdns.get(lineId), now)));
      // The thresholds, notifications and offers the re-rated records now reach (each once, emitted_event), committed with them.
      if (updates.length) outbox.push(...notices);
      await insertOutbox(db, outbox);
    });
    usage.pipeline.dropCounters();
    return { billingAccountId: c.billingAccountId, period: p.period, from, to, recordsRerated: updates.length, adjustments };
  });
}

/** What wallets rolled over into the periods replayed (from `from`): of the account's lines, and of its pools of the records' plan versions. */
async function rolloversOf(usage: UsageRuntime, billingAccountId: string, rows: { line_id: string; plan_version_id: string | null }[], from: Date, end: Date) {
  const owners = new Set<string>();
  for (const r of rows) {
    owners.add(lineRolloverOwner(r.line_id));
    if (r.plan_version_id) owners.add(poolRolloverOwner(billingAccountId, r.plan_version_id));
  }
  if (owners.size === 0) return [];
  const { rows: carried } = await usage.sql.query<{ owner: string; allowance_id: string; period_start: Date; quantity: string }>(
    'select owner, allowance_id, period_start, quantity from period_rollover where owner = any($1::text[]) and period_start >= $2 and period_start < $3',
    [[...owners], from, end],
  );
  return carried;
}

/** The allowance periods a record counts in, as the replay keys its counters (see rerateScope). */
interface RecordPeriods {
  line: LineInfo;
  /** The subscription's version at the record's time, and its plan. */
  inForce: SubscriptionVersion;
  inForcePlan: PlanLookup;
  feePeriod: FeePeriod | undefined;
  linePeriod: AllowancePeriod;
  /** The shared pool's period: where the subscription's plan shares allowances, or the correction named (of its plan) does. */
  pool: AllowancePeriod | undefined;
  /**
   * Add-on allowances per purchase in force at the event, over the purchase's own validity, as the
   * live pipeline counts them (a pass bought twice in a period is two buckets; one bought before a
   * renewal keeps what it used before it). The purchases are the subscription's, as wallets granted them.
   */
  purchases: Map<string, AddOnPurchase> | undefined;
}

/** A record's allowance periods; undefined where its line or subscription at its time is not known (not re-rated). */
async function recordPeriodsOf(usage: UsageRuntime, r: Row, corrected: PlanLookup | undefined): Promise<RecordPeriods | undefined> {
  const line = await usage.directory.load(r.line_id);
  const occurredAt = new Date(r.occurred_at);
  const inForce = line ? versionAt(line, occurredAt) : undefined;
  if (!line || !inForce) return undefined;
  const inForcePlan = await usage.plans.get(inForce.planVersionId);
  const feePeriod = inForcePlan.ok ? feePeriodOf(inForcePlan.rater) : undefined;
  const shares = (plan: PlanLookup | undefined) => plan?.ok === true && sharedAllowancesOf(plan.rater, usage.plans.knownOffers()).size > 0;
  const correcting = corrected?.ok === true && inForcePlan.ok && inForcePlan.rater.compiled.code === corrected.rater.compiled.code;
  const pool = shares(inForcePlan) || (correcting && shares(corrected)) ? poolPeriodAt(await usage.directory.poolMembers(inForce.billingAccountId, inForce.planVersionId), feePeriod, occurredAt) : undefined;
  const purchases = inForce.addOns.length > 0 && inForcePlan.ok ? addOnPurchasesAt(r.line_id, inForce.addOns, occurredAt, addOnAllowancesOf(inForcePlan.rater, usage.plans.knownOffers())) : undefined;
  return { line, inForce, inForcePlan, feePeriod, linePeriod: linePeriodAt(line, inForce, feePeriod, occurredAt), pool, purchases };
}

/** The periods of a record for rerateScope, keyed as the replay's counters (line, pool of the subscription's version, purchase). */
function scopePeriodsOf(r: Row, x: RecordPeriods | undefined): ScopePeriod[] {
  if (!x) return [];
  const out: ScopePeriod[] = [{ key: `line|${r.line_id}|${x.linePeriod.period}`, start: x.linePeriod.start, end: x.linePeriod.end }];
  if (x.pool) out.push({ key: `pool|${x.inForce.planVersionId}|${x.pool.period}`, start: x.pool.start, end: x.pool.end });
  for (const b of x.purchases?.values() ?? []) out.push({ key: `purchase|${b.key}`, start: b.start, end: b.end });
  return out;
}

/**
 * An end past the month's end and past what usage can have accepted by now is cut there (the month's end at least):
 * a period running now has no records after it yet, but usage accepts records dated up to MAX_CLOCK_SKEW_MS after its
 * clock (validateUsage: a network element's clock a little ahead), and those are the period's records as much as any.
 * Cut at now, they were left out of the replay: not re-rated, their draws missing from the counters the others drew on.
 */
function notPastNow(end: Date, monthEnd: Date, now: Date): Date {
  const accepted = now.getTime() + MAX_CLOCK_SKEW_MS;
  return end > monthEnd && end.getTime() > accepted ? new Date(Math.max(accepted, monthEnd.getTime())) : end;
}

/**
 * Where the re-rate starts: the earliest start of the allowance periods (of the account's lines and
 * shared pools) and of the add-on purchases running at the month's start.
 */
async function countingFrom(usage: UsageRuntime, billingAccountId: string, monthStart: Date): Promise<Date> {
  let from = monthStart;
  for (const x of await allowancePeriodsAt(usage, billingAccountId, monthStart)) if (x.start < from) from = x.start;
  return from;
}

/**
 * Where the re-rate ends: the latest end of the allowance periods (of the account's lines and shared
 * pools) and of the add-on purchases running when the month ends (at its last instant), not past
 * what usage can have accepted by `now` (notPastNow: now + MAX_CLOCK_SKEW_MS); the month's end at least.
 */
async function countingTo(usage: UsageRuntime, billingAccountId: string, monthEnd: Date, now: Date): Promise<Date> {
  let to = monthEnd;
  for (const x of await allowancePeriodsAt(usage, billingAccountId, new Date(monthEnd.getTime() - 1))) if (x.end > to) to = x.end;
  return notPastNow(to, monthEnd, now);
}

/** The allowance periods of the account's lines, of their shared pools and add-on purchases running at `at`. */
async function allowancePeriodsAt(usage: UsageRuntime, billingAccountId: string, at: Date): Promise<{ start: Date; end: Date }[]> {
  const out: { start: Date; end: Date }[] = [];
  const { rows } = await usage.sql.query<{ line_id: string }>(`select line_id from ${ACCOUNT_LINES} as a(line_id) where line_id is not null`, [billingAccountId]);
  await usage.directory.prefetch(rows.map((r) => r.line_id), []);
  for (const { line_id } of rows) {
    const line = await usage.directory.load(line_id);
    const version = line ? versionAt(line, at) : undefined;
    if (!line || !version) continue;
    const plan = await usage.plans.get(version.planVersionId);
    const feePeriod = plan.ok ? feePeriodOf(plan.rater) : undefined;
    out.push(linePeriodAt(line, version, feePeriod, at));
    // The pool counts where the plan shares allowances (the replay keeps no other).
    const pool = plan.ok && sharedAllowancesOf(plan.rater, usage.plans.knownOffers()).size > 0 ? poolPeriodAt(await usage.directory.poolMembers(version.billingAccountId, version.planVersionId), feePeriod, at) : undefined;
    if (pool) out.push(pool);
    const purchases = version.addOns.length > 0 && plan.ok ? addOnPurchasesAt(line_id, version.addOns, at, addOnAllowancesOf(plan.rater, usage.plans.knownOffers())) : undefined;
    out.push(...(purchases?.values() ?? []));
  }
  return out;
}

/**
 * Records rated at one time (one batch, or batches in the same millisecond) were rated, and their
 * allowances drawn, in the order the caller gave them (usage-pipeline.ts rates a batch as given;
 * reprocessRejected gives its records in event time): that order is not stored, and keeping it
 * would take a rating sequence written with every record on the ingest path. What each record
 * drew is stored: in the order it was drawn, one allowance gives whole draws, then at most one
 * partial one, then nothing. Where the event-time order of such a group breaks that pattern among
 * the records of one allowance id, their places in the group are refilled in draw order (whole,
 * partial, none; event time within each): the replay then gives each record what the ledger gave
 * it. Records of other allowances keep their places, and a group already in that pattern is left
 * as it is. What stays in event time: the order among records that drew alike, and against other
 * allowances' records (see STATUS.md: usage-based prices and spend rules within one such group).
 */
function withinTiesAsDrawn(rows: Row[]): void {
  for (let start = 0; start < rows.length; ) {
    const at = new Date(rows[start].rated_for_ledger_at).getTime();
    let end = start + 1;
    while (end < rows.length && new Date(rows[end].rated_for_ledger_at).getTime() === at) end++;
    if (end - start > 1) {
      // Places in the group of each allowance id's records (one id may be several buckets - lines,
      // periods, purchases -: each one's records keep their order among themselves when it is sorted).
      const places = new Map<string, number[]>();
      for (let i = start; i < end; i++) {
        const id = rows[i].allowance_id;
        if (id !== null && drawOf(rows[i]) !== undefined) (places.get(id) ?? places.set(id, []).get(id)!).push(i);
      }
      for (const slots of places.values()) {
        const drawn = slots.map((i) => ({ row: rows[i], draw: drawOf(rows[i])! }));
        if (drawn.every((d, k) => k === 0 || drawn[k - 1].draw <= d.draw)) continue;
        drawn.sort((x, y) => x.draw - y.draw); // stable: event time within each kind of draw
        slots.forEach((i, k) => (rows[i] = drawn[k].row));
      }
    }
    start = end;
  }
}

/**
 * What a record drew from its allowance, as the ledger settled it (usage's estimate before): 0 all
 * its units, 1 part of them, 2 none; undefined when it drew on no allowance the ledger saw (no
 * allowance, no units, a denied charge: the replay draws nothing for it anyway).
 */
function drawOf(r: Row): number | undefined {
  if (r.allowance_id === null || r.charge_status === 'DENIED') return undefined;
  const charged = dec(r.charged_units ?? '0');
  if (charged.lte(0)) return undefined;
  const covered = dec(r.units_from_allowances ?? r.from_allowance ?? '0');
  return covered.gte(charged) ? 0 : covered.gt(0) ? 1 : 2;
}

/**
 * The corrected plan version an earlier re-rate priced the record by (its trace names it as
 * `planVersionId`, beside `subscriptionPlanVersionId`), while the subscription's version at the event
 * (`inForce`) is still the one it corrected; undefined for a record priced by its subscription's version.
 */
function correctionOf(r: Row, inForce: string): string | undefined {
  const trace = (typeof r.rating === 'string' ? JSON.parse(r.rating) : r.rating) as { planVersionId?: unknown; subscriptionPlanVersionId?: unknown } | null;
  const pricedBy = trace?.planVersionId;
  return typeof pricedBy === 'string' && pricedBy !== inForce && trace?.subscriptionPlanVersionId === inForce ? pricedBy : undefined;
}

interface Shortfall {
  /** The units the ledger drew for the record (its settled units_from_allowances). */
  drawn: Decimal;
  /** The units the re-rating draws beyond them. */
  missing: Decimal;
}

/**
 * A record the ledger left short of its allowance: it drew fewer units than usage asked of it (the
 * record's settled units_from_allowances below its from_allowance: the bucket held no more, at the
 * live charge or at an earlier re-rate's draw, and the rest was charged as money), and the
 * re-rating still draws it from that allowance, more units than the ledger drew. Undefined otherwise
 * (the ADR 0019 moves apply: another allowance, none, or fewer units than the ledger drew).
 */
function shortfallOf(r: Row, allowanceId: string | undefined, draws: Decimal): Shortfall | undefined {
  if (r.allowance_id === null || r.allowance_id !== allowanceId || r.units_from_allowances === null || r.from_allowance === null) return undefined;
  const drawn = dec(r.units_from_allowances);
  if (!drawn.lt(r.from_allowance) || !draws.gt(drawn)) return undefined;
  return { drawn, missing: draws.minus(drawn) };
}

/**
 * The units the ledger granted of a record's charged units: none of a denied charge, ChargeResult.units
 * of a PARTIAL one (all of them when not known), all of the others'.
 */
function grantedUnitsOf(r: Row, chargedUnits: string): string {
  if (r.charge_status === 'DENIED') return '0';
  if (r.charge_status === 'PARTIAL' && r.granted_units !== null && dec(r.granted_units).lt(chargedUnits)) return dec(r.granted_units).toString();
  return chargedUnits;
}

/**
 * What a session's units past their grant leave unpaid once re-rated (null for a record with no unpaid amount): the
 * units the ledger refused (grantedUnitsOf) at the re-rating's price, so what is recorded lost is priced as the record
 * now is (a cheaper correction left it stating the old, dearer loss). The adjustment never touches those units (they were never charged): a dearer correction
 * does not collect them, a cheaper one gives nothing back for them; only what is recorded as lost follows the price.
 */
function unpaidAfterRerate(x: Rerated): string | null {
  if (x.r.unpaid_amount === null) return null;
  const charged = x.result.decision === 'RATED' ? dec(x.result.chargedUnits) : dec('0');
  const refused = Decimal.max(charged.minus(grantedUnitsOf(x.r, charged.toFixed())), '0');
  return refused.isZero() ? '0' : x.uncovered(refused).toFixed();
}

/**
 * The allowance moves of a record's adjustment (ADR 0019): from what the ledger drew for it (its
 * settled units_from_allowances, of its stored allowance) to what the re-rating draws (`draws` of
 * `allowanceId`). One allowance: the difference, drawn or given back. Another allowance: all the old
 * draw given back, the new one drawn. `uncovered`: the corrected price of units outside the allowance.
 */
function allowanceMovesOf(r: Row, allowanceId: string | undefined, draws: Decimal, unit: string, uncovered: (units: Decimal) => Decimal): AllowanceMove[] {
  const drawn = dec(r.units_from_allowances ?? r.from_allowance ?? '0');
  const moves: AllowanceMove[] = [];
  const move = (id: string, units: Decimal) => {
    if (!units.isZero()) moves.push({ allowanceId: id, unit, units: units.toFixed(), ...(units.gt(0) ? { uncoveredAmount: uncovered(units).toFixed() } : {}) });
  };
  if (r.allowance_id !== null && r.allowance_id === allowanceId) move(allowanceId, draws.minus(drawn));
  else {
    if (r.allowance_id !== null) move(r.allowance_id, drawn.negated());
    if (allowanceId !== undefined) move(allowanceId, draws);
  }
  return moves;
}

/** 1 for an adjustment's ChargeRequest that gives allowance units back, else 0. */
function givesBack(row: OutboxRow): number {
  const moves = (JSON.parse(row.payload) as ChargeRequest).allowanceMoves ?? [];
  return moves.some((m) => dec(m.units).lt(0)) ? 1 : 0;
}

/**
 * An adjustment: one ITEM at the money delta (negative = credit), and the allowance units it moves
 * (draws or gives back, `allowanceMoves`; none when the record draws what the ledger drew).
 */
function adjustmentCharge(chargeId: string, lineId: string, version: SubscriptionVersion, result: RatingResult, r: Row, delta: string, moves: AllowanceMove[], extra: { zone: string; adjustsInvoiceId: string | null }, allowOverdraft: boolean): ChargeRequest {
  return {
    chargeId,
    billingAccountId: version.billingAccountId,
    lineId,
    paymentMode: version.paymentMode,
    currency: result.currency,
    usageType: r.usage_type,
    occurredAt: new Date(r.occurred_at).toISOString(),
    units: '1',
    unit: 'ITEM',
    allowanceIds: [],
    // An adjustment: wallets takes a positive delta as a charge and credits a negative one back.
    kind: 'ADJUSTMENT',
    ...(moves.length > 0 ? { allowanceMoves: moves } : {}),
    pricePerUnit: delta,
    amount: delta,
    allowOverdraft,
    zone: extra.zone,
    ...(extra.adjustsInvoiceId ? { adjustsInvoiceId: extra.adjustsInvoiceId } : {}),
    // The record it corrects (echoed by wallets): invoicing weighs it against the record's disputes.
    usageRecordId: r.id,
  };
}
