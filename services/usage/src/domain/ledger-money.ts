/**
 * The money the wallets ledger takes for a usage charge, as usage estimates it. One rule for the
 * live pipeline, live usage and the re-rate: the estimate of an event partly covered by an
 * allowance is what the ledger will charge, so a re-rate with the same catalog finds nothing to
 * adjust.
 *
 * Mirrors wallets' `moneyFor` (services/wallets/src/domain/charging.ts, used by `decideCharge`):
 * a service cannot import another service, and the rule is not in @ledgerline/contracts. Keep the
 * two in step; ledger-money.test.ts has the same cases as wallets' charging tests.
 */
import { Decimal, dec } from '@ledgerline/contracts';

/** Ledger amounts are NUMERIC(30,6) (wallets' SCALE). */
const SCALE = 6;

export type Rounding = typeof Decimal.ROUND_HALF_EVEN | typeof Decimal.ROUND_DOWN;

/** The `amount` of the ChargeRequest for a rated price (chargeRequestOf): the price at the ledger's 6 places. */
export function chargeAmountOf(price: string | Decimal): Decimal {
  return dec(price).toDecimalPlaces(SCALE);
}

/**
 * The money for `units` of a charge of `chargeUnits` whose ChargeRequest `amount` is the rated
 * price of all of them: all of `amount` when no allowance covered a unit, else `amount` pro rata
 * (amount x units / chargeUnits, at 6 places, half-even; rounded down for a charge the ledger cut
 * short, PARTIAL). Never the tariff run again on the uncovered units: a per-event graduated tariff,
 * a flat fee per event or a first-minute rounding prices a part otherwise than its share.
 */
export function ledgerMoneyFor(amount: Decimal, chargeUnits: Decimal, units: Decimal, rounding: Rounding = Decimal.ROUND_HALF_EVEN): Decimal {
  if (units.equals(chargeUnits)) return amount;
  return chargeUnits.isZero() ? new Decimal(0) : amount.times(units).dividedBy(chargeUnits).toDecimalPlaces(SCALE, rounding);
}
