import { describe, expect, it } from 'vitest';
import { rerateScope, type ScopePeriod } from './rerate-scope';

const d = (day: string) => new Date(`2026-${day}T00:00:00Z`);
const period = (key: string, start: string, end: string): ScopePeriod => ({ key, start: d(start), end: d(end) });
const MARCH = { start: d('03-01'), end: d('04-01') };
const FEBRUARY = { start: d('02-01'), end: d('03-01') };

// Line B's own periods are calendar months; the pool's run from the 15th.
const B_FEB = period('line|b|feb', '02-01', '03-01');
const B_MAR = period('line|b|mar', '03-01', '04-01');
const POOL_FEB = period('pool|feb15', '02-15', '03-15');
const POOL_JAN = period('pool|jan15', '01-15', '02-15');

describe('rerateScope: the records connected to the month through their allowance periods', () => {
  it('a pool period straddling the month\'s start brings in the line\'s records of the month before, and that line period whole', () => {
    const scope = rerateScope([
      { id: 'b-feb-early', periods: [B_FEB, POOL_JAN] },
      { id: 'b-feb', periods: [B_FEB, POOL_FEB] },
      { id: 'b-mar', periods: [B_MAR, POOL_FEB] },
    ], MARCH);
    // b-feb shares the pool period with b-mar; b-feb-early shares B's February period with b-feb: its pool period too.
    expect([...scope.ids].sort()).toEqual(['b-feb', 'b-feb-early', 'b-mar']);
    expect(scope).toMatchObject({ start: d('01-15'), end: d('04-01') });
  });

  it('the same group from either neighbouring month (so each month re-rated once corrects it once)', () => {
    const records = [
      { id: 'b-feb', periods: [B_FEB, POOL_FEB] },
      { id: 'b-mar', periods: [B_MAR, POOL_FEB] },
    ];
    expect([...rerateScope(records, FEBRUARY).ids].sort()).toEqual([...rerateScope(records, MARCH).ids].sort());
  });

  it('a record sharing no period with the month\'s is not in scope; a period overlapping the month is, without records of the month', () => {
    const scope = rerateScope([
      { id: 'a-jan', periods: [period('line|a|jan', '01-01', '02-01')] },
      { id: 'c-feb20', periods: [period('line|c|feb15', '02-15', '03-15')] },
      { id: 'no-periods', periods: [] },
    ], MARCH);
    expect([...scope.ids]).toEqual(['c-feb20']);
    expect(scope).toMatchObject({ start: d('02-15'), end: d('03-15') });
  });

  it('nothing in scope: no range', () => {
    expect(rerateScope([{ id: 'a-jan', periods: [period('line|a|jan', '01-01', '02-01')] }], MARCH)).toEqual({ ids: new Set() });
  });
});
