import { Decimal, badInput, minorUnits } from '@ledgerline/contracts';

/**
 * Money a person enters (a top-up, a recharge, an adjustment, a voucher, a budget, a limit or a
 * threshold) is money that can be paid and shown: at most the currency's minor unit (ISO 4217
 * exponent: 2 for EUR, 0 for JPY, 3 for KWD). A card cannot be charged 10.123 USD. Rated prices
 * and the charges made from them keep 6 places (sub-cent rating): they are not entered, and are
 * not checked here. `currency` must be a supported one (checked before, see isCurrencyCode).
 */
export function requireMinorUnits(value: Decimal, currency: string, field: string): void {
  const digits = minorUnits(currency);
  if (value.decimalPlaces() <= digits) return;
  const allowed = digits === 0 ? 'no decimal places' : `at most ${digits} decimal place${digits === 1 ? '' : 's'}`;
  throw badInput(field, `${currency} amounts have ${allowed} (got ${value.toFixed()})`, 'AMOUNT_PRECISION');
}

/** `value` rounded up to the currency's minor unit: what a payment for at least `value` can be. */
export function upToMinorUnit(value: Decimal, currency: string): Decimal {
  return value.toDecimalPlaces(minorUnits(currency), Decimal.ROUND_UP);
}
