/**
 * The workflows' currency checks read contracts' ISO 4217 table through its dependency-free
 * `currencies` module (workflow code cannot import contracts' entry point, which brings node:crypto
 * into Temporal's workflow bundle). This test keeps them equal to contracts', over every
 * three-letter code.
 *
 * Bug: `isCurrencyCode` accepted any three capital letters, so a recharge in "ABC" (or a
 * withdrawn "HRK") passed validation and failed later in wallets, after the payment was authorised.
 */
import * as contracts from '@ledgerline/contracts';
import { describe, expect, it } from 'vitest';
import { validateRechargeInput } from './recharge';
import { isCurrencyCode, minorUnits } from './money';

const A = 'A'.charCodeAt(0);
const everyCode = Array.from({ length: 26 ** 3 }, (_, i) => String.fromCharCode(A + Math.floor(i / 676), A + (Math.floor(i / 26) % 26), A + (i % 26)));

describe('workflows money: the contracts currency table', () => {
  it('accepts exactly the codes contracts accepts, with the same minor units', () => {
    const mismatches: string[] = [];
    for (const code of everyCode) {
      const known = contracts.isCurrencyCode(code);
      if (isCurrencyCode(code) !== known) mismatches.push(`${code}: workflows ${isCurrencyCode(code)}, contracts ${known}`);
      else if (known && minorUnits(code) !== contracts.minorUnits(code)) mismatches.push(`${code}: workflows ${minorUnits(code)} digits, contracts ${contracts.minorUnits(code)}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('refuses codes that are not billable currencies, and what is not three capital letters', () => {
    for (const code of ['ABC', 'XXX', 'XTS', 'HRK', 'XAU', 'CHE', 'eur', 'EURO', ' EUR', 42, null]) expect(isCurrencyCode(code), String(code)).toBe(false);
    expect(minorUnits('JPY')).toBe(0);
    expect(minorUnits('KWD')).toBe(3);
    expect(() => minorUnits('ABC')).toThrow(/ABC/);
  });

  it('a recharge in an unknown currency names the field', () => {
    const input = { rechargeId: 'r1', billingAccountId: 'acc', amount: '20.00', currency: 'ABC', paymentMethodToken: 'tok', channel: 'API' };
    expect(validateRechargeInput(input)).toEqual([expect.stringMatching(/^currency must be an ISO 4217 code/)]);
    expect(validateRechargeInput({ ...input, currency: 'EUR' })).toEqual([]);
  });
});
