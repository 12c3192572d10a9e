/**
 * Simulation: rate a usage history under a plan as the wallet would charge it (allowances
 * consumed first, the rest at its share of the rated price: `uncoveredMoney`, the rule wallets
 * charges by), to compare plans on real usage. A simplified wallet: one
 * subscriber, events in the order given, over a span cut into the plan's fee periods the way
 * wallets and usage cut a subscription (`allowancePeriodAt` from the span's start): each period
 * has its own allowances, spend and period usage, and its own recurring fee. Like usage, it prices
 * each event on the period's usage before it and evaluates notify and offer rules on the usage
 * after it. The add-ons and offers named in `activeAddOns` are held through the span: bought at
 * its start and again whenever their validity runs out, each purchase with its allowances and its
 * price. The plan's activation fees are charged: the simulated subscription starts with the span.
 */
import { allowancePeriodAt, Decimal as MoneyDecimal, minorUnits, unusedDaysRefund, type AllowancePeriod, type FeePeriod } from '@ledgerline/contracts';
import { Decimal, ZERO } from '../domain/decimal';
import { assertValidEvent } from '../domain/derive-facts';
import type { Allowance, OfferDocument, OneOffFee, RecurringFee } from '../domain/plan-types';
import { uncoveredMoney } from '../domain/ledger-money';
import type { RatingResult } from '../domain/rating-result';
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

/** A fee of the simulation besides usage and the recurring fee, one line each. */
export interface SimulatedFee {
  /** ADD_ON: an add-on or offer named active; ONE_OFF: a one-off fee of the plan. */
  kind: 'ADD_ON' | 'ONE_OFF';
  code: string;
  name: string;
  /** Times charged in the span: an add-on's purchases (the last one prorated when the span's end cuts it), 1 for a one-off fee. */
  count: number;
  /** Exact, to the currency's minor unit at least. */
  amount: string;
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
  /** What the add-ons named active cost over the span (the ADD_ON lines of `fees`), "0" without any. */
  addOnFee: string;
  /** The plan's one-off fees the span includes (the ONE_OFF lines of `fees`): its ACTIVATION fees; "0" without any. */
  oneOffFee: string;
  /** The add-on and one-off lines, add-ons in the order named active, then the plan's one-off fees in its order. */
  fees: SimulatedFee[];
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
  /** The catalog's offers: those named in `activeAddOns` that can be bought on the plan are counted. */
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

/**
 * What an add-on held through the span costs: bought at the span's start and again each time its
 * `validityDays` run out (subscribers sells one valid that many days from the purchase, and no
 * second one while it is active). The purchase the span's end cuts is charged for its days in the
 * span, as `recurringFeesOver` charges a cut fee period, and for the same reason.
 */
export function addOnPurchasesOver(price: string, validityDays: number, currency: string, span: { from: Date; to: Date }): { purchases: number; amount: Decimal } {
  if (span.to <= span.from) return { purchases: 0, amount: ZERO };
  const length = validityDays * DAY;
  const purchases = Math.ceil((span.to.getTime() - span.from.getTime()) / length);
  const start = new Date(span.from.getTime() + (purchases - 1) * length);
  const full = new MoneyDecimal(price);
  const last = full.minus(unusedDaysRefund(full, { start, end: new Date(start.getTime() + length) }, span.to, currency).amount);
  return { purchases, amount: new Decimal(price).times(purchases - 1).plus(last.toString()) };
}

interface HeldAddOn {
  code: string;
  name: string;
  price: string;
  validityDays: number;
  allowances: readonly Allowance[];
}

/** An offer subscribers would sell on this plan: in the plan's currency, and compatible with it when it names plans. */
const buyableOn = (compiled: CompiledPlan, offer: OfferDocument): boolean =>
  offer.currency === compiled.currency && (!offer.compatiblePlans?.length || offer.compatiblePlans.includes(compiled.code));

/**
 * The add-ons named active that the plan can hold, in the order named: its own `addOns` (which win
 * over an offer of the same code) and the catalog's offers it can buy. `notBuyable`: codes of known
 * offers it cannot buy (another currency, not compatible), which therefore are not active on it.
 */
function heldAddOns(compiled: CompiledPlan, active: readonly string[] | undefined, offers: readonly OfferDocument[]): { held: HeldAddOn[]; notBuyable: Set<string> } {
  const held: HeldAddOn[] = [];
  const notBuyable = new Set<string>();
  for (const code of new Set(active ?? [])) {
    const own = compiled.plan.addOns?.find((addOn) => addOn.code === code);
    const named = own ? [] : offers.filter((offer) => offer.code === code);
    const found = own ?? named.find((offer) => buyableOn(compiled, offer));
    if (found) held.push({ code, name: found.name, price: found.price, validityDays: found.validityDays, allowances: found.allowances });
    else if (named.length > 0) notBuyable.add(code);
  }
  return { held, notBuyable };
}

/** The one-off fees a simulated span includes: it starts the subscription, so ACTIVATION; no SIM swap, plan change or termination happens in it. */
const oneOffFeesIn = (fees: readonly OneOffFee[] | undefined): OneOffFee[] => (fees ?? []).filter((fee) => fee.trigger === 'ACTIVATION');

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
  const { held, notBuyable } = heldAddOns(compiled, ctx.activeAddOns, options.offers ?? []);
  // An offer the plan cannot buy is not active on it: its rules do not see it either.
  const subscriber = notBuyable.size > 0 ? { ...ctx, activeAddOns: ctx.activeAddOns!.filter((code) => !notBuyable.has(code)) } : ctx;
  // The plan's allowances come round with each fee period; an add-on's with each purchase of it.
  const capacity = new Map<string, Decimal | null>(compiled.plan.allowances.map((a) => [a.id, sizeOf(a)]));
  const addOnBuckets = new Map<string, { size: Decimal | null; validityDays: number }>();
  for (const addOn of held) {
    for (const a of addOn.allowances) if (!capacity.has(a.id) && !addOnBuckets.has(a.id)) addOnBuckets.set(a.id, { size: sizeOf(a), validityDays: addOn.validityDays });
  }
  /** Units used per add-on allowance and purchase: `${id} ${purchase}`, purchases counted from the span's start. */
  const addOnUsed = new Map<string, Decimal>();
  const addOnKey = (id: string, at: number): string => {
    const length = addOnBuckets.get(id)!.validityDays * DAY;
    return `${id} ${span ? Math.max(0, Math.floor((at - span.from.getTime()) / length)) : 0}`;
  };
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
  const stateNow = (state: PeriodState, at: number): SubscriberContext => {
    const allowanceUsedRatios: Record<string, string> = {};
    for (const [id, size] of capacity) {
      if (size !== null && size.gt(0)) allowanceUsedRatios[id] = (state.used.get(id) ?? ZERO).div(size).toString();
    }
    for (const [id, { size }] of addOnBuckets) {
      if (size !== null && size.gt(0)) allowanceUsedRatios[id] = (addOnUsed.get(addOnKey(id, at)) ?? ZERO).div(size).toString();
    }
    return {
      ...subscriber,
      allowanceUsedRatios: { ...subscriber.allowanceUsedRatios, ...allowanceUsedRatios },
      spendInPeriod: state.spend.toString(),
      periodUsage: Object.fromEntries([...state.periodUsage].map(([type, units]) => [type, units.toString()])),
    };
  };

  for (const [index, event] of events.entries()) {
    const state = stateOf(periodOf(times[index]));
    const eventCtx = stateNow(state, times[index]);
    let result = rater.tryRateSync(event, eventCtx) ?? (await rater.rate(event, eventCtx));
    if (result.decision === 'DENIED') {
      charges.push({ result, coveredUnits: '0', charge: '0' });
      continue;
    }
    rated++;
    const units = new Decimal(result.chargedUnits);
    let covered = ZERO;
    const id = result.allowanceId;
    const bucket =
      id === undefined ? undefined
      : capacity.has(id) ? { size: capacity.get(id)!, used: state.used, key: id }
      : addOnBuckets.has(id) ? { size: addOnBuckets.get(id)!.size, used: addOnUsed, key: addOnKey(id, times[index]) }
      : undefined;
    if (bucket) {
      const already = bucket.used.get(bucket.key) ?? ZERO;
      covered = bucket.size === null ? units : Decimal.max(ZERO, Decimal.min(units, bucket.size.minus(already)));
      bucket.used.set(bucket.key, already.plus(covered));
    }
    // What the ledger takes: the rated price pro rata of the units the bucket left (wallets' rule, one function).
    const money = uncoveredMoney(result.price, result.chargedUnits, units.minus(covered));
    const charge = covered.isZero() && money.eq(result.price) ? result.price : money.toFixed();
    // Every charged unit counts for a PERIOD-basis table, the bundle's too, as usage counts the period's usage.
    state.periodUsage.set(event.usageType, (state.periodUsage.get(event.usageType) ?? ZERO).plus(units));
    state.spend = state.spend.plus(charge);
    spend = spend.plus(charge);
    const after = stateNow(state, times[index]);
    result = rater.tryNoticesAfterSync(result, event, after) ?? (await rater.noticesAfter(result, event, after));
    charges.push({ result, coveredUnits: covered.toString(), charge });
  }

  const fee = compiled.plan.recurringFee;
  // Without records or a span there is nothing to count periods over: one whole period, as a price list shows it.
  const fees = span ? recurringFeesOver(fee, compiled.currency, span) : { periods: fee ? 1 : 0, amount: new Decimal(fee?.amount ?? 0) };
  // Shown to the currency's minor unit ("31.00"), never rounded: a fee finer than it keeps its digits.
  const shown = (amount: Decimal): string => amount.toFixed(Math.max(minorUnits(compiled.currency), amount.decimalPlaces()));
  const recurringFee = fee ? shown(fees.amount) : '0';
  const lines: Array<SimulatedFee & { exact: Decimal }> = [];
  for (const addOn of held) {
    // Without a span, one purchase, as the single fee period above.
    const bought = span ? addOnPurchasesOver(addOn.price, addOn.validityDays, compiled.currency, span) : { purchases: 1, amount: new Decimal(addOn.price) };
    if (bought.purchases > 0) lines.push({ kind: 'ADD_ON', code: addOn.code, name: addOn.name, count: bought.purchases, amount: shown(bought.amount), exact: bought.amount });
  }
  if (!span || span.to > span.from) {
    for (const oneOff of oneOffFeesIn(compiled.plan.oneOffFees)) {
      const amount = new Decimal(oneOff.amount);
      lines.push({ kind: 'ONE_OFF', code: oneOff.code, name: oneOff.name, count: 1, amount: shown(amount), exact: amount });
    }
  }
  const sumOf = (kind: SimulatedFee['kind']): { text: string; exact: Decimal } => {
    const of = lines.filter((line) => line.kind === kind);
    const exact = of.reduce((sum, line) => sum.plus(line.exact), ZERO);
    return { text: of.length > 0 ? shown(exact) : '0', exact };
  };
  const addOnFee = sumOf('ADD_ON');
  const oneOffFee = sumOf('ONE_OFF');
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
    addOnFee: addOnFee.text,
    oneOffFee: oneOffFee.text,
    fees: lines.map(({ exact: _exact, ...line }) => line),
    span: span ? { from: span.from.toISOString(), to: span.to.toISOString() } : null,
    total: spend.plus(fees.amount).plus(addOnFee.exact).plus(oneOffFee.exact).toString(),
    charges,
  };
}

export interface PlanCost {
  planCode: string;
  planVersion: string;
  currency: string;
  usageCharge: string;
  recurringFee: string;
  addOnFee: string;
  oneOffFee: string;
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
    const { planCode, planVersion, currency, usageCharge, recurringFee, addOnFee, oneOffFee, total, denied } = report;
    costs.push({ planCode, planVersion, currency, usageCharge, recurringFee, addOnFee, oneOffFee, total, denied });
  }
  return costs.sort((a, b) => a.currency.localeCompare(b.currency) || new Decimal(a.total).comparedTo(new Decimal(b.total)) || a.planCode.localeCompare(b.planCode));
}
