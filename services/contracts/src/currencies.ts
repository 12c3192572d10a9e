/**
 * The currencies the platform bills in, dependency-free: workflow code imports this module alone
 * (`@ledgerline/contracts/currencies`), since contracts' entry point brings node:crypto into
 * Temporal's workflow bundle.
 */

/**
 * The currencies we bill in and their minor-unit digits: every currency of ISO 4217 List One as
 * published 2026-01-01, with ISO's exponents (not CLDR's display digits, which differ for e.g.
 * IQD, ALL, LBP). Left out: fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), units of
 * account and metals without a minor unit (XAU, XDR, XSU, XAD…), the test codes (XTS, XXX) and
 * withdrawn currencies (HRK, BGN, ANG, CUC, SLL, ZWL…). The one source of truth: `isCurrencyCode`,
 * the CurrencyCode scalar, the plan validator and `minorUnits` all read this table, so a currency
 * one service accepts, every other can round.
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

/** A currency the platform bills in: three capital letters in the table above. */
export function isCurrencyCode(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Z]{3}$/.test(value) && MINOR_UNITS.has(value);
}

/** Every currency the platform bills in with its minor-unit digits: for code that states the table elsewhere (a SQL check). */
export function currencyMinorUnits(): ReadonlyMap<string, number> {
  return MINOR_UNITS;
}

/** Minor-unit digits of a currency the platform bills in (2 for EUR, 0 for JPY, 3 for KWD); undefined for any other. */
export function minorUnitsOf(currency: string): number | undefined {
  return MINOR_UNITS.get(currency);
}
