import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { badInput, isCurrencyCode } from '@ledgerline/contracts';

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

/** Day 29-31 bill on the last day of shorter months. */
export function assertBillCycleDay(day: number, field = 'input.billCycleDay'): number {
  if (!Number.isInteger(day) || day < 1 || day > 31) throw badInput(field, `Bill-cycle day must be a whole number from 1 to 31, got ${day}`, 'BILL_CYCLE_DAY_OUT_OF_RANGE');
  return day;
}

export function assertCurrency(code: string, field = 'input.currency'): string {
  if (!isCurrencyCode(code)) throw badInput(field, `"${code}" is not a supported ISO 4217 currency`, 'CURRENCY_INVALID');
  return code;
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
