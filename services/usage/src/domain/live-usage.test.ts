import { describe, expect, it } from 'vitest';
import { dec } from '@ledgerline/contracts';
import { applyUsage, bucketOf, ratiosOf, usageStateOf, type LineCounters } from './live-usage';

const data = (units: string, price: string) => ({ usageType: 'DATA', chargedUnits: units, price, allowanceId: 'data', allowanceSize: '1000' });

describe('applyUsage', () => {
  it('takes units from the allowance first, prices the rest, and reports each threshold once', () => {
    const c: LineCounters = new Map();
    expect(applyUsage(c, data('400', '800')).crossed).toEqual([]);
    const second = applyUsage(c, data('450', '900'));
    expect(second.crossed.map((x) => x.threshold)).toEqual(['0.5', '0.8']);
    expect(second.spend).toBe('0');
    const third = applyUsage(c, data('200', '400'));
    // 150 units left in the bundle, 50 priced at 2.
    expect(third).toMatchObject({ fromAllowance: '150', spend: '100' });
    expect(third.crossed.map((x) => x.threshold)).toEqual(['1']);
    expect(applyUsage(c, data('10', '20'))).toMatchObject({ fromAllowance: '0', spend: '20', crossed: [] });
    expect(ratiosOf(c)).toEqual({ data: '1' });
    expect(c.get('')!.spend.toString()).toBe('120');
    expect(c.get('')!.events).toBe(4);
  });

  it('the first event on a bucket loaded from the records reports the thresholds the records passed, once', () => {
    const c: LineCounters = new Map();
    Object.assign(bucketOf(c, 'data'), { used: dec('850'), fromRecords: true });
    expect(applyUsage(c, data('10', '20')).crossed.map((x) => x.threshold)).toEqual(['0.5', '0.8']);
    expect(applyUsage(c, data('10', '20')).crossed).toEqual([]);
    // Past the bundle, an event drawing nothing from it still reports them (and its own crossing once).
    const full: LineCounters = new Map();
    Object.assign(bucketOf(full, 'data'), { used: dec('1000'), fromRecords: true });
    expect(applyUsage(full, data('10', '20'))).toMatchObject({ fromAllowance: '0', crossed: [{ threshold: '0.5' }, { threshold: '0.8' }, { threshold: '1' }] });
    expect(applyUsage(full, data('10', '20')).crossed).toEqual([]);
  });

  it('charges the full price when there is no allowance, and nothing from an unlimited one', () => {
    const c: LineCounters = new Map();
    expect(applyUsage(c, { usageType: 'VOICE', chargedUnits: '60', price: '0.90' }).spend).toBe('0.9');
    expect(applyUsage(c, { usageType: 'VOICE', chargedUnits: '60', price: '0.90', allowanceId: 'voice', allowanceSize: null })).toMatchObject({ spend: '0', fromAllowance: '60', crossed: [] });
  });

  it('prices the part an allowance does not cover as the ledger does: the rated price pro rata, not the tariff again', () => {
    const c: LineCounters = new Map();
    applyUsage(c, data('900', '0'));
    // 300 MB rated 4.2 per event (graduated, or a flat fee): 100 in the bundle, 200 at 4.2 x 200 / 300.
    expect(applyUsage(c, data('300', '4.2'))).toMatchObject({ fromAllowance: '100', spend: '2.8' });
    // Half-even at the ledger's 6 places; all of a price past 6 places is taken as the ChargeRequest's amount.
    const d: LineCounters = new Map();
    applyUsage(d, data('999', '0'));
    expect(applyUsage(d, data('3', '1')).spend).toBe('0.666667');
    expect(applyUsage(d, data('3', '1.00000050')).spend).toBe('1');
  });

  it('a charge the ledger cut short (re-rated): the units granted, pro rata of the charge, rounded down', () => {
    const c: LineCounters = new Map();
    applyUsage(c, data('1000', '0'));
    expect(applyUsage(c, { ...data('594.3', '12.6215'), ofUnits: '1500.3' }).spend).toBe('4.999638');
    expect(applyUsage(new Map(), { usageType: 'DATA', chargedUnits: '2', price: '20', ofUnits: '10' }).spend).toBe('4');
  });

  it('gives the usage state the rules read: before an event for its price, after it for its notices', () => {
    const line: LineCounters = new Map();
    const pool: LineCounters = new Map();
    applyUsage(line, data('700', '1400'));
    const before = usageStateOf(line);
    applyUsage(line, data('400', '800')); // 300 units left: 100 priced at 2
    expect({ before, after: usageStateOf(line) }).toEqual({
      before: { allowanceUsedRatios: { data: '0.7' }, spendInPeriod: '0' },
      after: { allowanceUsedRatios: { data: '1' }, spendInPeriod: '200' },
    });
    // A shared allowance's ratio is the account pool's, not the line's own share.
    applyUsage(line, { ...data('250', '500'), allowanceId: 'family' }, pool);
    expect(usageStateOf(line, pool, ['family']).allowanceUsedRatios).toEqual({ data: '1', family: '0.25' });
    expect(usageStateOf(line, pool, ['family', 'other']).allowanceUsedRatios.other).toBe('0');
  });
});
