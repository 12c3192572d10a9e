/**
 * Turning a quantity into a price under one `rate` rule: increments (chargeable units), then a
 * flat unit price or a graduated / volume / tiered-flat price table, then one rounding to the
 * tariff's scale (sub-cent: 6 decimals unless the rule says otherwise). All exact decimal maths.
 */
import { Decimal, roundTo, toDecimal, ZERO, type RoundingMode } from './decimal';
import type { PriceModel, RateParams, Unit } from './plan-types';
import { formatMinimal, formatScaled, parseScaled, rescale, roundDown, type Scaled } from './scaled-decimal';

export interface CompiledTier {
  upTo: Decimal | null;
  unitPrice: Decimal;
  flatFee: Decimal;
}

export interface CompiledTariff {
  rule: string;
  allowanceId?: string;
  unit: Unit;
  first: Decimal;
  next: Decimal;
  roundingMode: RoundingMode;
  scale: number;
  pricePerUnit?: Decimal;
  pricePerUnitText?: string;
  /** The rule's increments as it names them (absent: 1 and 1), for RatingResult.increments. */
  increments?: IncrementGrid;
  /** The same numbers as scaled BigInts, for the fast path. */
  scaled: { first: Scaled; next: Scaled; pricePerUnit?: Scaled };
  table?: { model: PriceModel; basis: 'EVENT' | 'PERIOD'; tiers: CompiledTier[] };
}

const ONE = new Decimal(1);
export const DEFAULT_SCALE = 6;

/**
 * A tariff's increments as decimal strings: at least `first` units, then whole steps of `next`.
 * Absent (a rule without `increments`): 1 and 1, whole units.
 */
export interface IncrementGrid {
  first: string;
  next: string;
}

export function compileTariff(rule: string, params: RateParams): CompiledTariff {
  return {
    rule,
    allowanceId: params.allowanceId,
    unit: params.unit,
    first: params.increments ? toDecimal(params.increments.first) : ONE,
    next: params.increments ? toDecimal(params.increments.next) : ONE,
    roundingMode: params.rounding?.mode ?? 'HALF_UP',
    scale: params.rounding?.scale ?? DEFAULT_SCALE,
    pricePerUnit: params.pricePerUnit !== undefined ? toDecimal(params.pricePerUnit) : undefined,
    pricePerUnitText: params.pricePerUnit !== undefined ? toDecimal(params.pricePerUnit).toString() : undefined,
    increments: params.increments ? Object.freeze({ first: toDecimal(params.increments.first).toString(), next: toDecimal(params.increments.next).toString() }) : undefined,
    scaled: {
      first: parseScaled(String(params.increments?.first ?? 1)),
      next: parseScaled(String(params.increments?.next ?? 1)),
      pricePerUnit: params.pricePerUnit !== undefined ? parseScaled(params.pricePerUnit) : undefined,
    },
    table: params.priceTable && {
      model: params.priceTable.model,
      basis: params.priceTable.basis,
      tiers: params.priceTable.tiers.map((tier) => ({
        upTo: tier.upTo === null ? null : toDecimal(tier.upTo),
        unitPrice: toDecimal(tier.unitPrice ?? '0'),
        flatFee: toDecimal(tier.flatFee ?? '0'),
      })),
    },
  };
}

/**
 * Units actually charged: nothing for nothing, at least `first` units, then whole steps of
 * `next` (60/1 = per-minute first then per-second; 60/60 = per started minute).
 */
export function chargeableUnits(quantity: Decimal, tariff: Pick<CompiledTariff, 'first' | 'next'>): Decimal {
  if (quantity.lte(0)) return ZERO;
  if (quantity.lte(tariff.first)) return tariff.first;
  const steps = quantity.minus(tariff.first).div(tariff.next).ceil();
  return tariff.first.plus(steps.times(tariff.next));
}

/** Index of the tier containing `units` (tiers bounds are inclusive upper bounds). */
function tierIndexOf(tiers: CompiledTier[], units: Decimal): number {
  for (let i = 0; i < tiers.length; i++) {
    const upTo = tiers[i].upTo;
    if (upTo === null || units.lte(upTo)) return i;
  }
  return tiers.length - 1;
}

/** Price of `units` counted from zero under a price table. */
export function tableTotal(model: PriceModel, tiers: CompiledTier[], units: Decimal): Decimal {
  if (units.lte(0)) return ZERO;
  if (model === 'GRADUATED') {
    let total = ZERO;
    let lower = ZERO;
    for (const tier of tiers) {
      if (units.lte(lower)) break;
      const upper = tier.upTo === null || units.lt(tier.upTo) ? units : tier.upTo;
      total = total.plus(upper.minus(lower).times(tier.unitPrice)).plus(tier.flatFee);
      if (tier.upTo === null) break;
      lower = tier.upTo;
    }
    return total;
  }
  const tier = tiers[tierIndexOf(tiers, units)];
  return model === 'VOLUME' ? units.times(tier.unitPrice).plus(tier.flatFee) : tier.flatFee;
}

/**
 * Unrounded price of `units` chargeable units. With a PERIOD-basis table the event pays the
 * difference between the period totals after and before it, so the event prices of a period
 * always add up to the table's price of the period's volume (an event that moves the period
 * into a cheaper VOLUME tier therefore gets a negative price: a credit). An EVENT-basis table
 * prices a later part of a call the same way on the call's units (`callUnitsBefore`, the
 * chargeable units of its earlier parts), so the parts add up to the whole call's price.
 */
export function unroundedPrice(tariff: CompiledTariff, units: Decimal, periodUnitsBefore: Decimal, callUnitsBefore: Decimal = ZERO): Decimal {
  if (tariff.pricePerUnit) return units.times(tariff.pricePerUnit);
  const table = tariff.table!;
  const before = table.basis === 'EVENT' ? callUnitsBefore : periodUnitsBefore;
  if (before.isZero()) return tableTotal(table.model, table.tiers, units);
  return tableTotal(table.model, table.tiers, before.plus(units)).minus(tableTotal(table.model, table.tiers, before));
}

export function priceOf(tariff: CompiledTariff, units: Decimal, periodUnitsBefore: Decimal, callUnitsBefore: Decimal = ZERO): string {
  return roundTo(unroundedPrice(tariff, units, periodUnitsBefore, callUnitsBefore), tariff.scale, tariff.roundingMode);
}

/** chargeableUnits on scaled values of one scale. */
function chargeableScaled(q: bigint, first: bigint, next: bigint): bigint {
  if (q <= 0n) return 0n;
  if (q <= first) return first;
  return first + ((q - first + next - 1n) / next) * next;
}

/**
 * chargeableUnits then, for a flat unit price, the rounded price, in scaled BigInt arithmetic.
 * Gives exactly what the Decimal functions above give (tested in pricing.test.ts).
 *
 * `preceding`: units of the same call rated before this part (an online session's earlier reports):
 * the increments apply to the call's running total, so the part is charged what it adds to the
 * call's chargeable units, chargeableUnits(preceding + quantity) - chargeableUnits(preceding), and
 * the parts of a call add up to the call rated as one event. `unitsBefore` is chargeableUnits(preceding).
 */
export function fastUnitsAndPrice(tariff: CompiledTariff, quantity: string, preceding?: string): { units: string; price?: string; unitsBefore?: string } {
  const q = parseScaled(quantity);
  const { first, next, pricePerUnit } = tariff.scaled;
  const p = preceding === undefined ? undefined : parseScaled(preceding);
  const scale = Math.max(q.scale, first.scale, next.scale, p?.scale ?? 0);
  const qs = rescale(q, scale);
  const fs = rescale(first, scale);
  const ns = rescale(next, scale);
  let units: bigint;
  let before: bigint | undefined;
  if (p === undefined) {
    units = chargeableScaled(qs, fs, ns);
  } else {
    const ps = rescale(p, scale);
    before = chargeableScaled(ps, fs, ns);
    units = chargeableScaled(ps + qs, fs, ns) - before;
  }
  const unitsText = formatMinimal(units, scale);
  const unitsBefore = before === undefined ? undefined : formatMinimal(before, scale);
  if (!pricePerUnit) return unitsBefore === undefined ? { units: unitsText } : { units: unitsText, unitsBefore };
  const raw = units * pricePerUnit.units;
  const price = roundDown(raw, scale + pricePerUnit.scale, tariff.scale, tariff.roundingMode);
  return { units: unitsText, price: formatScaled(price, tariff.scale) };
}

/** A grid's numbers and `values` as scaled BigInts of one scale. */
function onGrid(increments: IncrementGrid | null | undefined, values: string[]): { first: bigint; next: bigint; values: bigint[]; scale: number } {
  const first = parseScaled(increments?.first ?? '1');
  const next = parseScaled(increments?.next ?? '1');
  const parsed = values.map(parseScaled);
  const scale = Math.max(first.scale, next.scale, ...parsed.map((v) => v.scale));
  return { first: rescale(first, scale), next: rescale(next, scale), values: parsed.map((v) => rescale(v, scale)), scale };
}

/**
 * The chargeable units `quantity` more units add to a call of which `preceding` units were rated
 * already, under `increments` (RatingResult.increments; absent: 1 and 1): what rating charges an
 * event with that `precedingQuantity` (fastUnitsAndPrice), for online charging to commit the same.
 * Non-negative decimal strings.
 */
export function partChargeableUnits(quantity: string, preceding: string, increments?: IncrementGrid | null): string {
  const g = onGrid(increments, [quantity, preceding]);
  const [q, p] = g.values;
  const before = chargeableScaled(p, g.first, g.next);
  return formatMinimal(chargeableScaled(p + q, g.first, g.next) - before, g.scale);
}

/**
 * How far `chargeable` more chargeable units carry a call of which `preceding` units were rated:
 * the largest total the call may reach whose parts after `preceding` add at most `chargeable`
 * chargeable units (partChargeableUnits), i.e. the last point of the increments' grid within
 * chargeableUnits(preceding) + chargeable; never below `preceding`. With `chargeable` 0 it is what
 * the call's chargeable units paid for already (a 10 s call on `first: 60` is paid up to 60 s).
 * Online charging grants the units a reservation covers so: each of them is charged within it.
 */
export function callTotalCovered(chargeable: string, preceding: string, increments?: IncrementGrid | null): string {
  const g = onGrid(increments, [chargeable, preceding]);
  const [c, p] = g.values;
  const limit = chargeableScaled(p, g.first, g.next) + c;
  const onGridBelow = limit < g.first ? 0n : g.first + ((limit - g.first) / g.next) * g.next;
  return formatMinimal(onGridBelow > p ? onGridBelow : p, g.scale);
}
