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
  /** The same numbers as scaled BigInts, for the fast path. */
  scaled: { first: Scaled; next: Scaled; pricePerUnit?: Scaled };
  table?: { model: PriceModel; basis: 'EVENT' | 'PERIOD'; tiers: CompiledTier[] };
}

const ONE = new Decimal(1);
export const DEFAULT_SCALE = 6;

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
 * into a cheaper VOLUME tier therefore gets a negative price: a credit).
 */
export function unroundedPrice(tariff: CompiledTariff, units: Decimal, periodUnitsBefore: Decimal): Decimal {
  if (tariff.pricePerUnit) return units.times(tariff.pricePerUnit);
  const table = tariff.table!;
  if (table.basis === 'EVENT') return tableTotal(table.model, table.tiers, units);
  return tableTotal(table.model, table.tiers, periodUnitsBefore.plus(units)).minus(
    tableTotal(table.model, table.tiers, periodUnitsBefore),
  );
}

export function priceOf(tariff: CompiledTariff, units: Decimal, periodUnitsBefore: Decimal): string {
  return roundTo(unroundedPrice(tariff, units, periodUnitsBefore), tariff.scale, tariff.roundingMode);
}

/**
 * chargeableUnits then, for a flat unit price, the rounded price, in scaled BigInt arithmetic.
 * Gives exactly what the Decimal functions above give (tested in pricing.test.ts).
 */
export function fastUnitsAndPrice(tariff: CompiledTariff, quantity: string): { units: string; price?: string } {
  const q = parseScaled(quantity);
  const { first, next, pricePerUnit } = tariff.scaled;
  const scale = Math.max(q.scale, first.scale, next.scale);
  const qs = rescale(q, scale);
  const fs = rescale(first, scale);
  const ns = rescale(next, scale);
  let units: bigint;
  if (qs <= 0n) units = 0n;
  else if (qs <= fs) units = fs;
  else units = fs + ((qs - fs + ns - 1n) / ns) * ns;
  const unitsText = formatMinimal(units, scale);
  if (!pricePerUnit) return { units: unitsText };
  const raw = units * pricePerUnit.units;
  const price = roundDown(raw, scale + pricePerUnit.scale, tariff.scale, tariff.roundingMode);
  return { units: unitsText, price: formatScaled(price, tariff.scale) };
}
