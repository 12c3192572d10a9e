import { describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import { subMinorResidue } from './entered-money';

describe('subMinorResidue', () => {
  it('is the whole balance when it is below one minor unit of its currency, either sign; null otherwise', () => {
    const of = (amount: string, currency: string) => subMinorResidue(new Decimal(amount), currency)?.toFixed() ?? null;
    expect([
      of('0.007', 'EUR'), of('-0.004', 'EUR'), of('0.009999', 'EUR'), of('0.01', 'EUR'), of('-0.01', 'EUR'), of('9.977', 'EUR'), of('0', 'EUR'),
      of('0.0006', 'BHD'), of('0.001', 'BHD'), of('0.5', 'JPY'), of('-0.999999', 'JPY'), of('1', 'JPY'),
    ]).toEqual(['0.007', '-0.004', '0.009999', null, null, null, null, '0.0006', null, '0.5', '-0.999999', null]);
  });
});
