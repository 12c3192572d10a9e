import { describe, expect, it } from 'vitest';
import { PrefixTable } from './prefix-table';

/** The reference: the first of the prefixes, longest first (a stable sort keeps listed order), that the number starts with. */
function scan(entries: { prefix: string; value: string }[], number: string): string | undefined {
  return [...entries].sort((a, b) => b.prefix.length - a.prefix.length).find((e) => number.startsWith(e.prefix))?.value;
}

describe('PrefixTable', () => {
  it('answers the longest matching prefix, the first listed of a prefix given twice, and nothing without a match', () => {
    const table = new PrefixTable([{ prefix: '+49', value: 'NATIONAL' }, { prefix: '+4915', value: 'MOBILE' }, { prefix: '+4915', value: 'LATER' }, { prefix: '+1', value: 'NANP' }]);
    expect(table.match('+4915112345')).toBe('MOBILE');
    expect(table.match('+4930123')).toBe('NATIONAL');
    expect(table.match('+49')).toBe('NATIONAL');
    expect(table.match('+4')).toBeUndefined();
    expect(table.match('+81312345678')).toBeUndefined();
    expect(new PrefixTable<string>([]).match('+49')).toBeUndefined();
  });

  it('agrees with a scan of every prefix on a large random table', () => {
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const digits = (n: number) => Array.from({ length: n }, () => String(rnd(10))).join('');
    const entries = Array.from({ length: 3000 }, (_, i) => ({ prefix: `+${digits(1 + rnd(6))}`, value: `Z${i}` }));
    const table = new PrefixTable(entries);
    for (let i = 0; i < 5000; i++) {
      const number = `+${digits(4 + rnd(9))}`;
      expect(table.match(number), number).toBe(scan(entries, number));
    }
  });
});
