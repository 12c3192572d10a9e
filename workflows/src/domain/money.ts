// Money is a decimal string plus an ISO 4217 code; never a JS number (CONVENTIONS rule 1).
// These checks are pure and dependency-free so workflow code can use them too.

const DECIMAL = /^(0|[1-9]\d{0,17})(\.\d{1,10})?$/;

/**
 * The currencies the platform bills in, with their minor-unit digits: a copy of the one table in
 * @ledgerline/contracts (services/contracts/src/money.ts, `ISO_4217_EXPONENTS`), made from its
 * text. Workflow code cannot import contracts' entry point: it brings node:crypto (ids.ts) into
 * Temporal's workflow bundle, which fails to build. money.test.ts checks the copy against
 * contracts' `isCurrencyCode` / `minorUnits` over every three-letter code: change both together.
 */
const ISO_4217_EXPONENTS: ReadonlyArray<readonly [digits: number, codes: string]> = [
  [0, 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF'],
  [
    2,
    'AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK ' +
      'DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD ' +
      'KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP ' +
      'PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH ' +
      'USD UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG',
  ],
  [3, 'BHD IQD JOD KWD LYD OMR TND'],
];
const MINOR_UNITS: ReadonlyMap<string, number> = new Map(ISO_4217_EXPONENTS.flatMap(([digits, codes]) => codes.split(' ').map((code) => [code, digits] as const)));

/** A non-negative decimal string such as "12.3400" (no sign, exponent or spaces). */
export function isDecimalString(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value);
}

/** True when the decimal string is greater than zero, decided on the digits alone. */
export function isPositiveDecimal(value: string): boolean {
  return isDecimalString(value) && /[1-9]/.test(value);
}

/** A currency the platform bills in (contracts' ISO 4217 table): not just any three capital letters. */
export function isCurrencyCode(value: unknown): value is string {
  return typeof value === 'string' && MINOR_UNITS.has(value);
}

/** Minor-unit digits of a currency the platform bills in (ISO 4217 exponent): 2 for EUR, 0 for JPY, 3 for KWD. */
export function minorUnits(currency: string): number {
  const digits = MINOR_UNITS.get(currency);
  if (digits === undefined) throw new RangeError(`Unknown currency "${currency}"`);
  return digits;
}
