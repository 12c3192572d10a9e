import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { Decimal, badInput, isCurrencyCode, isDecimalString, minorUnits } from '@ledgerline/contracts';

/** Returns the canonical E.164 form (`+4915123456789`) or throws naming the field. */
export function normalizeMsisdn(raw: string, field = 'input.msisdn'): string {
  const phone = parsePhoneNumberFromString(raw.trim());
  if (!raw.trim().startsWith('+') || !phone || !phone.isValid()) {
    throw badInput(field, `"${raw}" is not a valid MSISDN in E.164 form (e.g. +4915123456789)`, 'MSISDN_INVALID');
  }
  return phone.number;
}

export function assertTimezone(tz: string, field: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz;
  } catch {
    throw badInput(field, `"${tz}" is not an IANA time zone (e.g. Europe/Berlin)`, 'TIMEZONE_INVALID');
  }
}

/** Characters of a text as a varchar(n) column counts them: code points, not UTF-16 units ("😀" is one). */
export const characters = (text: string): number => [...text].length;

/**
 * A text input of at most `max` characters, its column's size, checked before anything is written
 * (PostgreSQL would refuse it, and the caller heard INTERNAL_SERVER_ERROR): else BAD_USER_INPUT
 * `code` naming `field`.
 */
export function assertMaxLength(text: string, max: number, field: string, code: string): string {
  if (characters(text) > max) throw badInput(field, `${field.replace(/^input\./, '')} is at most ${max} characters (got ${characters(text)})`, code);
  return text;
}

/** Characters of a caller's idempotency key: product_order.idempotency_key and billing_account.closed_key are varchar(200). */
export const IDEMPOTENCY_KEY_MAX = 200;

/**
 * A caller's idempotency key, the one check of every mutation that takes one: 1 to `max` characters
 * (its column's size; less where the service derives longer keys from it), not blank, checked
 * before anything is written. Returns it as given.
 */
export function assertIdempotencyKey(key: string, max = IDEMPOTENCY_KEY_MAX, field = 'input.idempotencyKey'): string {
  if (!key.trim() || characters(key) > max) throw badInput(field, `An idempotency key is 1 to ${max} characters`, 'IDEMPOTENCY_KEY_INVALID');
  return key;
}

/** An optional idempotency key: none (null, absent or empty) passes; any other as `assertIdempotencyKey`. */
export function assertOptionalIdempotencyKey(key: string | null | undefined): void {
  if (key) assertIdempotencyKey(key);
}

/** Day 29-31 bill on the last day of shorter months. */
export function assertBillCycleDay(day: number, field = 'input.billCycleDay'): number {
  if (!Number.isInteger(day) || day < 1 || day > 31) throw badInput(field, `Bill-cycle day must be a whole number from 1 to 31, got ${day}`, 'BILL_CYCLE_DAY_OUT_OF_RANGE');
  return day;
}

export function assertCurrency(code: string, field = 'input.currency'): string {
  if (!isCurrencyCode(code)) throw badInput(field, `"${code}" is not a supported ISO 4217 currency`, 'CURRENCY_INVALID');
  return code;
}

/** Whole digits a credit limit may have (below 10^12): what wallets' ledger takes as an entered amount. */
const CREDIT_LIMIT_BELOW = new Decimal(10).pow(12);

/**
 * A credit limit as staff enter it: a non-negative amount of the account's currency, no finer than
 * its minor unit (2 places for EUR, 0 for JPY), below 10^12. billingaccount.created / .changed carry
 * it to wallets, which charges against it: a limit of 2500.1234567 EUR is not an amount anyone can
 * owe, and wallets' ledger keeps 6 places. `currency` must be a supported one (assertCurrency).
 */
export function assertCreditLimit(value: string, currency: string, field = 'input.creditLimit'): string {
  if (!isDecimalString(value) || value.startsWith('-')) throw badInput(field, 'A credit limit must be a non-negative decimal', 'CREDIT_LIMIT_INVALID');
  const limit = new Decimal(value);
  if (!limit.lessThan(CREDIT_LIMIT_BELOW)) throw badInput(field, `A credit limit must be below ${CREDIT_LIMIT_BELOW.toFixed()} (got ${value})`, 'AMOUNT_TOO_LARGE');
  const digits = minorUnits(currency);
  if (limit.decimalPlaces() > digits) {
    throw badInput(field, `${currency} amounts have ${digits === 0 ? 'no decimal places' : `at most ${digits} decimal place${digits === 1 ? '' : 's'}`} (got ${value})`, 'AMOUNT_PRECISION');
  }
  return value;
}

/** ICCID (SIM serial, ITU-T E.118): 19-20 digits starting 89, Luhn check digit. */
export function normalizeIccid(raw: string, field = 'input.iccid'): string {
  const digits = raw.replace(/[\s-]/g, '');
  if (!/^89\d{17,18}$/.test(digits) || !luhnValid(digits)) throw badInput(field, `"${raw}" is not an ICCID (19-20 digits starting 89 with a valid check digit)`, 'ICCID_INVALID');
  return digits;
}

/** IMSI: 15 digits (MCC + MNC + MSIN). */
export function normalizeImsi(raw: string, field = 'input.imsi'): string {
  const digits = raw.trim();
  if (!/^\d{15}$/.test(digits)) throw badInput(field, `"${raw}" is not an IMSI (15 digits)`, 'IMSI_INVALID');
  return digits;
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
