/**
 * Simulation: rate a usage history under a plan as the wallet would charge it (allowances
 * consumed first, the rest priced), to compare plans on real usage. A simplified wallet: one
 * subscriber, events in the order given, over a span cut into the plan's fee periods the way
 * wallets and usage cut a subscription (`allowancePeriodAt` from the span's start): each period
 * has its own allowances, spend and period usage, and its own recurring fee. Like usage, it prices
 * each event on the period's usage before it and evaluates notify and offer rules on the usage
 * after it. The add-ons and offers named in `activeAddOns` add their allowances, granted once
 * for the span.
 */
import { allowancePeriodAt, Decimal as MoneyDecimal, minorUnits, unusedDaysRefund, type AllowancePeriod, type FeePeriod } from '@ledgerline/contracts';
import { Decimal, ZERO } from '../domain/decimal';
import { assertValidEvent } from '../domain/derive-facts';
import type { Allowance, OfferDocument, RecurringFee } from '../domain/plan-types';
import { priceUnits, type RatingResult } from '../domain/rating-result';
import type { SubscriberContext, UsageEvent } from '../domain/usage';
import { createRater } from '../engine/cached-rater';
import type { CompiledPlan } from '../engine/compile-plan';

export interface SimulatedCharge {
  result: RatingResult;
  /** Units taken from the allowance bucket. */
  coveredUnits: string;
  /** Money charged after the allowance. */
  charge: string;
}

export interface SimulationReport {
  planCode: string;
  planVersion: string;
  currency: string;
  events: number;
  rated: number;
  denied: number;
  /** Sum of usage charges. */
  usageCharge: string;
  /** The recurring fees of the fee periods that start in the span, to the currency's minor unit ("0" without a fee). */
  recurringFee: string;
  /** How many fee periods start in the span (the last one may be cut by its end). */
  feePeriods: number;
  /** The simulated span [from, to), ISO instants; null without records or an explicit span (then one whole period is charged). */
  span: { from: string; to: string } | null;
  total: string;
  charges: SimulatedCharge[];
}

export interface SimulationOptions {
  /**
   * The span the usage covers, [from, to): the fee periods run from `from` (as a subscription's
   * from its start). Default: the UTC days of the records, from the first one's midnight to the
   * midnight after the last one.
   */
  span?: { from: Date; to: Date };
  /** The catalog's offers: the allowances of those named in `activeAddOns` are counted. */
  offers?: readonly OfferDocument[];
}

const DAY = 86_400_000;

/** The UTC days of the records: [midnight of the first, midnight after the last). */
function spanOfRecords(times: readonly number[]): { from: Date; to: Date } | undefined {
  if (times.length === 0) return undefined;
  let first = times[0];
  let last = times[0];
  for (const t of times) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  return { from: new Date(Math.floor(first / DAY) * DAY), to: new Date((Math.floor(last / DAY) + 1) * DAY) };
}

/**
 * The recurring fee over a span: once for each fee period that starts in [from, to), from `from`
 * on as `allowancePeriodAt` counts them. A period the span's end cuts is charged for the days of
 * it in the span: the fee less what `unusedDaysRefund` (wallets' rule) gives back for the days
 * after the span's end. The span's end is where the observation stops, not where the
 * subscription does, so this holds whatever the plan's `proration`.
 */
export function recurringFeesOver(fee: RecurringFee | undefined, currency: string, span: { from: Date; to: Date }): { periods: number; amount: Decimal } {
  if (!fee || span.to <= span.from) return { periods: 0, amount: ZERO };
  // Counted, not walked: a span of centuries of weekly periods is one step. The periods before the last one are whole.
  const last = allowancePeriodAt(span.from, fee.period, new Date(span.to.getTime() - 1));
  const before =
    fee.period === 'MONTH'
      ? last.start.getUTCFullYear() * 12 + last.start.getUTCMonth() - (span.from.getUTCFullYear() * 12 + span.from.getUTCMonth())
      : Math.round((last.start.getTime() - span.from.getTime()) / (last.end.getTime() - last.start.getTime()));
  const full = new MoneyDecimal(fee.amount);
  const lastFee = full.minus(unusedDaysRefund(full, last, span.to, currency).amount);
  return { periods: before + 1, amount: new Decimal(fee.amount).times(before).plus(lastFee.toString()) };
}

/** The allowances of the plan's add-ons and the catalog's offers named active, not the plan's own. */
function activeAddOnAllowances(compiled: CompiledPlan, active: readonly string[] | undefined, offers: readonly OfferDocument[]): Allowance[] {
  if (!active || active.length === 0) return [];
  const own = new Set(compiled.plan.allowances.map((a) => a.id));
  const found: Allowance[] = [];
  for (const addOn of compiled.plan.addOns ?? []) if (active.includes(addOn.code)) found.push(...addOn.allowances);
  for (const offer of offers) if (active.includes(offer.code)) found.push(...offer.allowances);
  const seen = new Set<string>();
  return found.filter((a) => !own.has(a.id) && !seen.has(a.id) && seen.add(a.id));
}

const sizeOf = (allowance: Allowance): Decimal | null => {
  const size = allowance.unlimited ? allowance.fairUseCap : allowance.quantity;
  return size === undefined ? null : new Decimal(size);
};

/** What one fee period has used: the plan's buckets (renewed each period), its spend and its usage per type. */
interface PeriodState {
  used: Map<string, Decimal>;
  periodUsage: Map<string, Decimal>;
  spend: Decimal;
}

export async function simulate(compiled: CompiledPlan, events: readonly UsageEvent[], ctx: SubscriberContext, options: SimulationOptions = {}): Promise<SimulationReport> {
  const times = events.map((event) => assertValidEvent(event));
  const span = options.span ?? spanOfRecords(times);
  const feePeriod: FeePeriod = compiled.plan.recurringFee?.period ?? 'DAYS30';
  const periodOf = (at: number): AllowancePeriod | undefined => (span ? allowancePeriodAt(span.from, feePeriod, new Date(at)) : undefined);

  const rater = createRater(compiled);
  // The plan's allowances come round with each fee period; the active add-ons' and offers' are granted once.
  const capacity = new Map<string, Decimal | null>(compiled.plan.allowances.map((a) => [a.id, sizeOf(a)]));
  const addOnCapacity = new Map<string, Decimal | null>(activeAddOnAllowances(compiled, ctx.activeAddOns, options.offers ?? []).map((a) => [a.id, sizeOf(a)]));
  const addOnUsed = new Map<string, Decimal>();
  const periods = new Map<string, PeriodState>();
  const stateOf = (period: AllowancePeriod | undefined): PeriodState => {
    const key = period?.start.toISOString() ?? '';
    let state = periods.get(key);
    if (!state) periods.set(key, (state = { used: new Map(), periodUsage: new Map(), spend: ZERO }));
    return state;
  };
  let spend = ZERO;
  let rated = 0;
  const charges: SimulatedCharge[] = [];

  // The period's usage as the rules see it: pricing rules before an event, notify and offer rules after it.
  const stateNow = (state: PeriodState): SubscriberContext => {
    const allowanceUsedRatios: Record<string, string> = {};
    for (const [buckets, used] of [[capacity, state.used], [addOnCapacity, addOnUsed]] as const) {
      for (const [id, size] of buckets) {
        if (size !== null && size.gt(0)) allowanceUsedRatios[id] = (used.get(id) ?? ZERO).div(size).toString();
      }
    }
    return {
      ...ctx,
      allowanceUsedRatios: { ...ctx.allowanceUsedRatios, ...allowanceUsedRatios },
      spendInPeriod: state.spend.toString(),
      periodUsage: Object.fromEntries([...state.periodUsage].map(([type, units]) => [type, units.toString()])),
    };
  };

  for (const [index, event] of events.entries()) {
    const state = stateOf(periodOf(times[index]));
    const eventCtx = stateNow(state);
    let result = rater.tryRateSync(event, eventCtx) ?? (await rater.rate(event, eventCtx));
    if (result.decision === 'DENIED') {
      charges.push({ result, coveredUnits: '0', charge: '0' });
      continue;
    }
    rated++;
    const units = new Decimal(result.chargedUnits);
    let covered = ZERO;
    const id = result.allowanceId;
    const bucket = id === undefined ? undefined : capacity.has(id) ? { size: capacity.get(id)!, used: state.used } : addOnCapacity.has(id) ? { size: addOnCapacity.get(id)!, used: addOnUsed } : undefined;
    if (id !== undefined && bucket) {
      const already = bucket.used.get(id) ?? ZERO;
      covered = bucket.size === null ? units : Decimal.max(ZERO, Decimal.min(units, bucket.size.minus(already)));
      bucket.used.set(id, already.plus(covered));
    }
    const uncovered = units.minus(covered);
    let charge = result.price;
    if (covered.gt(0)) {
      const rule = result.trace.find((entry) => entry.type === 'rate')!.rule;
      const tariff = compiled.ruleByName.get(rule)!.tariff!;
      charge = uncovered.isZero() ? '0' : priceUnits(tariff, result.adjustments, uncovered.toString(), state.periodUsage.get(event.usageType)?.toString());
    }
    state.periodUsage.set(event.usageType, (state.periodUsage.get(event.usageType) ?? ZERO).plus(uncovered));
    state.spend = state.spend.plus(charge);
    spend = spend.plus(charge);
    const after = stateNow(state);
    result = rater.tryNoticesAfterSync(result, event, after) ?? (await rater.noticesAfter(result, event, after));
    charges.push({ result, coveredUnits: covered.toString(), charge });
  }

  const fee = compiled.plan.recurringFee;
  // Without records or a span there is nothing to count periods over: one whole period, as a price list shows it.
  const fees = span ? recurringFeesOver(fee, compiled.currency, span) : { periods: fee ? 1 : 0, amount: new Decimal(fee?.amount ?? 0) };
  // Shown to the currency's minor unit ("31.00"), never rounded: a fee finer than it keeps its digits.
  const recurringFee = fee ? fees.amount.toFixed(Math.max(minorUnits(compiled.currency), fees.amount.decimalPlaces())) : '0';
  return {
    planCode: compiled.code,
    planVersion: compiled.version,
    currency: compiled.currency,
    events: events.length,
    rated,
    denied: events.length - rated,
    usageCharge: spend.toString(),
    recurringFee,
    feePeriods: fees.periods,
    span: span ? { from: span.from.toISOString(), to: span.to.toISOString() } : null,
    total: spend.plus(fees.amount).toString(),
    charges,
  };
}

export interface PlanCost {
  planCode: string;
  planVersion: string;
  currency: string;
  usageCharge: string;
  recurringFee: string;
  total: string;
  denied: number;
}

/**
 * Cost of the same usage under each plan, cheapest first (grouped by currency: amounts in
 * different currencies are not compared). The subscriber context defaults to an active line of
 * the plan's own payment mode and customer type. Every plan is simulated over the same span (the
 * records' days, or `options.span`), each with its own fee periods.
 */
export async function comparePlans(
  events: readonly UsageEvent[],
  plans: readonly CompiledPlan[],
  ctx: Partial<SubscriberContext> = {},
  options: SimulationOptions = {},
): Promise<PlanCost[]> {
  const costs: PlanCost[] = [];
  for (const compiled of plans) {
    const report = await simulate(compiled, events, {
      accountType: compiled.plan.paymentMode,
      customerType: compiled.plan.customerType ?? 'INDIVIDUAL',
      lineStatus: 'ACTIVE',
      lineCount: 1,
      ...ctx,
    }, options);
    const { planCode, planVersion, currency, usageCharge, recurringFee, total, denied } = report;
    costs.push({ planCode, planVersion, currency, usageCharge, recurringFee, total, denied });
  }
  return costs.sort((a, b) => a.currency.localeCompare(b.currency) || new Decimal(a.total).comparedTo(new Decimal(b.total)) || a.planCode.localeCompare(b.planCode));
}
