import { describe, expect, it } from 'vitest';
import { Decimal } from '@ledgerline/contracts';
import { netDueCharges } from './settlement-netting';

const d = (v: string) => new Decimal(v);
const split = (balance: string, amounts: string[], currency = 'EUR') => {
  const { charges, left } = netDueCharges(d(balance), amounts.map((a, i) => ({ id: `c${i}`, amount: d(a) })), currency);
  return { charges: charges.map((c) => [c.collected.toFixed(), c.refused.toFixed()]), left: left.toFixed() };
};

describe('netDueCharges: the balance of a settled wallet against its due charges', () => {
  it('takes what the wallet holds towards the oldest charge; only the rest is refused', () => {
    expect(split('3.00', ['5.00'])).toEqual({ charges: [['3', '2']], left: '0' });
  });

  it('pays a charge it covers whole, then the next in part, then nothing: oldest first', () => {
    expect(split('7.50', ['4.00', '5.00', '2.50'])).toEqual({ charges: [['4', '0'], ['3.5', '1.5'], ['0', '2.5']], left: '0' });
  });

  it('nets whole minor units only: a sub-minor rest stays for the rounding write-off', () => {
    expect(split('3.007', ['5.00'])).toEqual({ charges: [['3', '2']], left: '0.007' });
    expect(split('3.007', ['2.00'])).toEqual({ charges: [['2', '0']], left: '1.007' });
    expect(split('1234.9', ['2000'], 'JPY')).toEqual({ charges: [['1234', '766']], left: '0.9' });
  });

  it('takes nothing from an empty or overdrawn wallet: every charge is refused whole', () => {
    expect(split('0', ['5.00'])).toEqual({ charges: [['0', '5']], left: '0' });
    expect(split('-2.00', ['5.00', '1.00'])).toEqual({ charges: [['0', '5'], ['0', '1']], left: '-2' });
  });

  it('leaves what is over on the wallet when it covers every charge', () => {
    expect(split('10.00', ['4.00', '5.00'])).toEqual({ charges: [['4', '0'], ['5', '0']], left: '1' });
  });
});
