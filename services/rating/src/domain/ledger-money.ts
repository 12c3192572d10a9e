/**
 * The money the wallets ledger takes for a usage charge: ONE rule for wallets' decideCharge (what
 * is charged), usage's estimates (live usage, the re-rate) and `simulate` / `comparePlans` (what a
 * customer is told it would cost), so the three never disagree.
 *
 * An event partly covered by an allowance pays the share of its rated price that its uncovered
 * units are of its charged units. Never the tariff run again on the uncovered units as a fresh
 * event: a per-event graduated table would start again at tier 0, a flat fee per event or a
 * first-minute rounding would be paid in full on a sliver, so a unit outside the bundle would cost
 * more than the event's own units cost on average. Pro rata every unit of the event costs the same,
 * the charge grows steadily from 0 (all covered) to the rated price (none covered), and it needs
 * only the charge's amount: the ledger charges without the plan.
 *
 * Hot path (wallets' charging, usage's pipeline): plain Decimal arithmetic on the caller's values,
 * no allocation beyond the result.
 */
import { Decimal, dec } from '@ledgerline/contracts';

/** Ledger amounts are NUMERIC(30,6). */
export const LEDGER_SCALE = 6;

/** Half-even for a charge made; down for one the ledger cut short (PARTIAL): it never takes more than the units granted are worth. */
export type LedgerRounding = typeof Decimal.ROUND_HALF_EVEN | typeof Decimal.ROUND_DOWN;

/** The `amount` of the ChargeRequest for a rated price: the price at the ledger's 6 places, half-even. */
export function chargeAmountOf(price: string | Decimal): Decimal {
  return dec(price).toDecimalPlaces(LEDGER_SCALE, Decimal.ROUND_HALF_EVEN);
}

/**
 * The money for `units` of a charge of `chargeUnits` whose amount is `amount` (the rated price of
 * all of them): all of `amount` when no allowance covered a unit, else `amount` pro rata
 * (amount x units / chargeUnits, at 6 places).
 */
export function ledgerMoneyFor(amount: Decimal, chargeUnits: Decimal, units: Decimal, rounding: LedgerRounding = Decimal.ROUND_HALF_EVEN): Decimal {
  if (units.equals(chargeUnits)) return amount;
  return chargeUnits.isZero() ? new Decimal(0) : amount.times(units).dividedBy(chargeUnits).toDecimalPlaces(LEDGER_SCALE, rounding);
}

/** A rating result's money for its `uncovered` units, as the ledger takes it from the ChargeRequest usage sends (its amount: `chargeAmountOf(price)`). */
export function uncoveredMoney(price: string, chargedUnits: string, uncovered: Decimal): Decimal {
  return ledgerMoneyFor(chargeAmountOf(price), dec(chargedUnits), uncovered);
}
