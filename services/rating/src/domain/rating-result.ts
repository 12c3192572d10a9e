/**
 * The result of rating one event, and how it is computed from a rule outcome. Pure: the same
 * (event, context, plan version, outcome) always gives the same result.
 */
import { Decimal, roundTo, ZERO } from './decimal';
import type { FactName } from './facts';
import type { RuleOutcome, TraceEntry } from './outcome';
import type { AdjustmentScope, DecimalString, Unit } from './plan-types';
import { chargeableUnits, fastUnitsAndPrice, priceOf, type CompiledTariff, type IncrementGrid } from './pricing';
import type { SubscriberContext, UsageEvent } from './usage';

export interface AppliedAdjustment {
  rule: string;
  kind: 'SURCHARGE' | 'DISCOUNT';
  scope: AdjustmentScope;
  percent?: DecimalString;
  amount?: DecimalString;
  /** Money added (surcharge) or removed (discount) from this event's price; "0…" for INVOICE scope. */
  applied: DecimalString;
  /**
   * A later part of a call (precedingQuantity), a fixed-amount EVENT adjustment only: an `amount` is
   * per call, so this is what the call's earlier parts applied of it (rated as the call's first units
   * as one event: a surcharge in full, a discount up to their price)...
   */
  usedByEarlierParts?: DecimalString;
  /** ...and what they left of it for this part (`amount` less that). `applied` is this, a discount's at most the part's price. */
  leftForThisPart?: DecimalString;
  label?: string;
}

export interface RatingNotification {
  rule: string;
  template: string;
  threshold: DecimalString;
  channel?: string;
  /** The allowance whose used ratio the notice is about (relevant to the event's usage type). */
  allowanceId?: string;
}

export interface RatingResult {
  eventId: string;
  planCode: string;
  planVersion: string;
  currency: string;
  decision: 'RATED' | 'DENIED';
  /** LINE_SUSPENDED / LINE_BARRED, NO_TARIFF, or a deny rule's reason such as PREMIUM_BARRED. */
  denyReason?: string;
  /** Bucket the wallet should consume first; whatever it does not cover is priced in money. */
  allowanceId?: string;
  unit?: Unit;
  quantity: DecimalString;
  /** The event's precedingQuantity, when it is a later part of a call (see UsageEvent). */
  precedingQuantity?: DecimalString;
  /**
   * Quantity after the tariff's increments; what buckets and prices count. For a later part of a
   * call (precedingQuantity), what the part adds to the call's chargeable units.
   */
  chargedUnits: DecimalString;
  /**
   * The tariff's increments when its rule names them (absent: 1 and 1, whole units): online
   * charging rates a session's later reports on the same grid (partChargeableUnits).
   */
  increments?: IncrementGrid;
  /** Flat unit price of the tariff, when it has one (price tables have none). */
  pricePerUnit?: DecimalString;
  /** Price of all chargedUnits before surcharges and discounts (as if no allowance applied). */
  basePrice: DecimalString;
  /** basePrice with EVENT-scope surcharges and discounts applied; never below zero after a discount. */
  price: DecimalString;
  adjustments: AppliedAdjustment[];
  notifications: RatingNotification[];
  offers: Array<{ rule: string; offerCode: string }>;
  /** The facts the plan's rules read, with the values they had for this event (the period's usage before it). */
  facts: Partial<Record<FactName, unknown>>;
  /**
   * The usage-state facts (allowanceUsedRatio, spendInPeriod) the plan's rules read, after the
   * event was counted: what its `notify` and `offer` rules saw. Set by Rater.noticesAfter.
   */
  factsAfter?: Partial<Record<FactName, unknown>>;
  /** Every rule that fired, in resolution order. */
  trace: TraceEntry[];
  warnings: string[];
}

export interface ResultContext {
  planCode: string;
  planVersion: string;
  currency: string;
  relevantAllowance: string | undefined;
  facts: Partial<Record<FactName, unknown>>;
}

const HUNDRED = new Decimal(100);

function periodUnitsBefore(tariff: CompiledTariff, event: UsageEvent, ctx: SubscriberContext): Decimal {
  if (tariff.table?.basis !== 'PERIOD') return ZERO;
  return new Decimal(ctx.periodUsage?.[event.usageType] ?? '0');
}

/**
 * Applies EVENT-scope surcharges then discounts, in priority order, each rounded to the tariff
 * scale. INVOICE-scope adjustments are listed for invoicing and leave the price alone.
 * `earlier`: the event is a later part of a call (precedingQuantity) and `basePrice` is what the
 * call's earlier parts cost before adjustments, as the call's first units rated as one event. A fixed
 * `amount` is per call, as for the call rated as one event (one CDR): the earlier parts applied what
 * these adjustments apply to that price (a surcharge in full; a discount up to their price, after the
 * adjustments before it), and this part applies the rest (`leftForThisPart`): none of a surcharge (an
 * online session's every report paid a connection fee again), what the earlier parts could not take of
 * a discount, up to this part's price, so the parts add up to the CDR. A `percent` is proportional and
 * applies to every part.
 */
export function applyAdjustments(
  outcome: Pick<RuleOutcome, 'surcharges' | 'discounts'>,
  basePrice: string,
  tariff: CompiledTariff,
  earlier?: { basePrice: string },
): { price: string; adjustments: AppliedAdjustment[] } {
  if (outcome.surcharges.length === 0 && outcome.discounts.length === 0) return { price: basePrice, adjustments: [] };
  const zero = roundTo(ZERO, tariff.scale, tariff.roundingMode);
  // What the earlier parts applied, adjustment by adjustment (surcharges then discounts, as below).
  const usedBefore = earlier === undefined ? undefined : applyAdjustments(outcome, earlier.basePrice, tariff).adjustments.map((a) => new Decimal(a.applied));
  let running = new Decimal(basePrice);
  const adjustments: AppliedAdjustment[] = [];
  const apply = (kind: 'SURCHARGE' | 'DISCOUNT', rule: string, params: RuleOutcome['discounts'][number]['params']) => {
    const i = adjustments.length;
    let delta = ZERO;
    let perCall: Pick<AppliedAdjustment, 'usedByEarlierParts' | 'leftForThisPart'> | undefined;
    if (params.scope === 'EVENT') {
      if (params.percent !== undefined) delta = running.times(params.percent).div(HUNDRED);
      else if (usedBefore === undefined) delta = new Decimal(params.amount!);
      else {
        const used = usedBefore[i];
        const left = Decimal.max(ZERO, new Decimal(roundTo(new Decimal(params.amount!), tariff.scale, tariff.roundingMode)).minus(used));
        perCall = { usedByEarlierParts: used.toFixed(tariff.scale), leftForThisPart: left.toFixed(tariff.scale) };
        delta = left;
      }
      // A discount takes the price to zero at most; it never pays the customer.
      if (kind === 'DISCOUNT') delta = Decimal.max(ZERO, Decimal.min(delta, running));
      delta = new Decimal(roundTo(delta, tariff.scale, tariff.roundingMode));
      running = kind === 'SURCHARGE' ? running.plus(delta) : running.minus(delta);
    }
    adjustments.push({
      rule,
      kind,
      scope: params.scope,
      ...(params.percent !== undefined ? { percent: params.percent } : { amount: params.amount }),
      applied: params.scope === 'EVENT' ? delta.toFixed(tariff.scale) : zero,
      ...perCall,
      ...(params.label !== undefined ? { label: params.label } : {}),
    });
  };
  for (const { rule, params } of outcome.surcharges) apply('SURCHARGE', rule, params);
  for (const { rule, params } of outcome.discounts) apply('DISCOUNT', rule, params);
  return { price: running.toFixed(tariff.scale), adjustments };
}

function hasEventAmount(outcome: Pick<RuleOutcome, 'surcharges' | 'discounts'>): boolean {
  return [...outcome.surcharges, ...outcome.discounts].some(({ params }) => params.scope === 'EVENT' && params.percent === undefined);
}

/**
 * What a call's earlier parts cost before adjustments: its first `preceding` units rated as one event
 * under this part's tariff (their chargeable units under its increments). A PERIOD-basis table prices
 * them where the period stood before the call: the period's units before this part less the call's
 * earlier chargeable units (usage counts each report's units before it rates the next).
 */
function earlierPartsBasePrice(tariff: CompiledTariff, preceding: string, periodBefore: Decimal): string {
  const units = chargeableUnits(new Decimal(preceding), tariff);
  return priceOf(tariff, units, Decimal.max(ZERO, periodBefore.minus(units)));
}

export function deniedResult(event: UsageEvent, result: ResultContext, reason: string, outcome?: RuleOutcome): RatingResult {
  return {
    eventId: event.id,
    planCode: result.planCode,
    planVersion: result.planVersion,
    currency: result.currency,
    decision: 'DENIED',
    denyReason: reason,
    quantity: event.quantity,
    chargedUnits: '0',
    basePrice: '0',
    price: '0',
    adjustments: [],
    notifications: [],
    offers: [],
    facts: result.facts,
    trace: outcome?.trace ?? [],
    warnings: outcome?.warnings ?? [],
  };
}

export function buildResult(event: UsageEvent, ctx: SubscriberContext, outcome: RuleOutcome, result: ResultContext): RatingResult {
  if (outcome.deny) return deniedResult(event, result, outcome.deny.reason, outcome);
  const tariff = outcome.tariff;
  if (!tariff) return deniedResult(event, result, 'NO_TARIFF', outcome);
  const fast = fastUnitsAndPrice(tariff, event.quantity, event.precedingQuantity);
  const periodBefore = periodUnitsBefore(tariff, event, ctx);
  const basePrice = fast.price ?? priceOf(tariff, new Decimal(fast.units), periodBefore, fast.unitsBefore === undefined ? ZERO : new Decimal(fast.unitsBefore));
  // Any units before it (a non-zero precedingQuantity) mean an earlier part of the call was rated.
  const laterPart = event.precedingQuantity !== undefined && /[1-9]/.test(event.precedingQuantity);
  const earlier = laterPart && hasEventAmount(outcome) ? { basePrice: earlierPartsBasePrice(tariff, event.precedingQuantity!, periodBefore) } : undefined;
  const { price, adjustments } = applyAdjustments(outcome, basePrice, tariff, earlier);
  // Built field by field (no spreads): this object is made for every rated event.
  const rated: RatingResult = {
    eventId: event.id,
    planCode: result.planCode,
    planVersion: result.planVersion,
    currency: result.currency,
    decision: 'RATED',
    unit: tariff.unit,
    quantity: event.quantity,
    chargedUnits: fast.units,
    basePrice,
    price,
    adjustments,
    notifications: outcome.notifications.length === 0 ? [] : outcome.notifications.map(({ rule, params }) => toNotification(rule, params, result.relevantAllowance)),
    offers: outcome.offers.length === 0 ? [] : outcome.offers.map(({ rule, params }) => ({ rule, offerCode: params.offerCode })),
    facts: result.facts,
    trace: outcome.trace,
    warnings: outcome.warnings,
  };
  if (tariff.allowanceId !== undefined) rated.allowanceId = tariff.allowanceId;
  if (tariff.pricePerUnitText !== undefined) rated.pricePerUnit = tariff.pricePerUnitText;
  if (tariff.increments !== undefined) rated.increments = tariff.increments;
  if (event.precedingQuantity !== undefined) rated.precedingQuantity = event.precedingQuantity;
  return rated;
}

/**
 * Price of units under the tariff and adjustments rating chose, as if they were an event of their
 * own. Not what the wallet charges for the units an allowance did not cover: that is their share of
 * the rated price (`ledgerMoneyFor`). `unitsBefore` are charged units of the same period already
 * priced (PERIOD-basis tables only).
 */
export function priceUnits(
  tariff: CompiledTariff,
  adjustments: readonly AppliedAdjustment[],
  units: string,
  unitsBefore = '0',
): string {
  const base = priceOf(tariff, new Decimal(units), new Decimal(unitsBefore));
  const asParams = (adjustment: AppliedAdjustment) => ({
    rule: adjustment.rule,
    params: {
      scope: adjustment.scope,
      ...(adjustment.percent !== undefined ? { percent: adjustment.percent } : { amount: adjustment.amount }),
    },
  });
  return applyAdjustments(
    {
      surcharges: adjustments.filter((a) => a.kind === 'SURCHARGE').map(asParams),
      discounts: adjustments.filter((a) => a.kind === 'DISCOUNT').map(asParams),
    },
    base,
    tariff,
  ).price;
}

export function toNotification(rule: string, params: RuleOutcome['notifications'][number]['params'], allowanceId: string | undefined): RatingNotification {
  const notification: RatingNotification = { rule, template: params.template, threshold: params.threshold };
  if (params.channel !== undefined) notification.channel = params.channel;
  if (allowanceId !== undefined) notification.allowanceId = allowanceId;
  return notification;
}
