import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from './decimal';
import { chargeableUnits, compileTariff, fastUnitsAndPrice, priceOf, tableTotal } from './pricing';

const perSecond = compileTariff('voice', { unit: 'SECOND', pricePerUnit: '0.0015', increments: { first: 60, next: 1 } });
const tiers = (model: 'GRADUATED' | 'VOLUME' | 'TIERED_FLAT') =>
  compileTariff('data', {
    unit: 'MB',
    priceTable: { model, basis: 'EVENT', tiers: [{ upTo: '100', unitPrice: '0.02', flatFee: '1' }, { upTo: null, unitPrice: '0.01', flatFee: '3' }] },
  }).table!;

describe('chargeable units', () => {
  it('charges nothing for nothing, the first block for short usage, then whole steps', () => {
    expect(chargeableUnits(new Decimal(0), perSecond).toString()).toBe('0');
    expect(chargeableUnits(new Decimal(5), perSecond).toString()).toBe('60');
    expect(chargeableUnits(new Decimal('60.2'), perSecond).toString()).toBe('61');
    const perMinute = compileTariff('m', { unit: 'SECOND', pricePerUnit: '0.0165', increments: { first: 60, next: 60 } });
    expect(chargeableUnits(new Decimal(61), perMinute).toString()).toBe('120');
  });

  it('fast BigInt path equals the decimal.js path for any quantity, increments, price and rounding', () => {
    const decimalText = fc.tuple(fc.nat(100000), fc.nat(9999)).map(([whole, fraction]) => `${whole}.${String(fraction).padStart(4, '0')}`);
    const positive = fc.tuple(fc.integer({ min: 1, max: 120 }), fc.constantFrom('', '.1', '.25', '.01')).map(([w, f]) => `${w}${f}`);
    fc.assert(
      fc.property(decimalText, positive, positive, decimalText, fc.constantFrom('HALF_UP', 'HALF_EVEN', 'UP', 'DOWN'), fc.integer({ min: 2, max: 8 }), (quantity, first, next, price, mode, scale) => {
        const tariff = compileTariff('t', { unit: 'MB', pricePerUnit: price, increments: { first, next }, rounding: { mode: mode as 'UP', scale } });
        const units = chargeableUnits(new Decimal(quantity), tariff);
        const fast = fastUnitsAndPrice(tariff, quantity);
        expect(fast.units).toBe(units.toString());
        expect(fast.price).toBe(priceOf(tariff, units, new Decimal(0)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('price tables', () => {
  it('graduated: each unit at its tier price, plus the flat fee of every tier entered', () => {
    // 100 × 0.02 + 1 + 50 × 0.01 + 3 = 6.5
    expect(tableTotal('GRADUATED', tiers('GRADUATED').tiers, new Decimal(150)).toString()).toBe('6.5');
    expect(tableTotal('GRADUATED', tiers('GRADUATED').tiers, new Decimal(100)).toString()).toBe('3');
  });
  it('volume: all units at the price of the tier reached', () => {
    // 150 × 0.01 + 3 = 4.5, cheaper than graduated
    expect(tableTotal('VOLUME', tiers('VOLUME').tiers, new Decimal(150)).toString()).toBe('4.5');
    expect(tableTotal('VOLUME', tiers('VOLUME').tiers, new Decimal(100)).toString()).toBe('3');
  });
  it('tiered flat: only the flat fee of the tier reached', () => {
    expect(tableTotal('TIERED_FLAT', tiers('TIERED_FLAT').tiers, new Decimal(50)).toString()).toBe('1');
    expect(tableTotal('TIERED_FLAT', tiers('TIERED_FLAT').tiers, new Decimal(101)).toString()).toBe('3');
    expect(tableTotal('TIERED_FLAT', tiers('TIERED_FLAT').tiers, new Decimal(0)).toString()).toBe('0');
  });
  it('PERIOD basis: event prices of a period add up to the table price of the period volume', () => {
    const tariff = compileTariff('d', { unit: 'MB', priceTable: { model: 'GRADUATED', basis: 'PERIOD', tiers: [{ upTo: '1024', unitPrice: '0.0100' }, { upTo: null, unitPrice: '0.0050' }] } });
    let before = new Decimal(0);
    let sum = new Decimal(0);
    for (const units of ['700', '700', '700']) {
      sum = sum.plus(priceOf(tariff, new Decimal(units), before));
      before = before.plus(units);
    }
    expect(sum.toString()).toBe(tableTotal('GRADUATED', tariff.table!.tiers, new Decimal(2100)).toString());
    expect(sum.toString()).toBe('15.62'); // 1024 × 0.01 + 1076 × 0.005
  });
});
