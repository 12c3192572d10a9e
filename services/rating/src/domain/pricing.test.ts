import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decimal } from './decimal';
import { callTotalCovered, chargeableUnits, compileTariff, fastUnitsAndPrice, partChargeableUnits, priceOf, tableTotal } from './pricing';

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

describe('parts of one call (precedingQuantity: an online session\'s reports)', () => {
  const perMinute = compileTariff('m', { unit: 'SECOND', pricePerUnit: '0.0100', increments: { first: 60, next: 60 } });

  it('charges each part what it adds to the call\'s chargeable units', () => {
    // 30 s, 25 s, 6 s of one call on first 60 / next 60: 60, 0, 60 (the call, 61 s, is 120 s).
    expect([['30', '0'], ['25', '30'], ['6', '55']].map(([q, p]) => fastUnitsAndPrice(perMinute, q, p))).toEqual([
      { units: '60', price: '0.600000' }, { units: '0', price: '0.000000' }, { units: '60', price: '0.600000' },
    ]);
    // 10 s then 5 s on first 60 / next 1: 60, then nothing (not 60 + 60).
    expect(fastUnitsAndPrice(perSecond, '5', '10')).toEqual({ units: '0', price: '0.000000' });
    expect(partChargeableUnits('5', '10', { first: '60', next: '1' })).toBe('0');
    expect(partChargeableUnits('30', '60', { first: '60', next: '1' })).toBe('30');
    // No increments named: whole units (1 and 1), as a CDR.
    expect(partChargeableUnits('2.5', '2.5')).toBe('2');
  });

  it('the parts of a call add up to the call rated as one event, in units and in price (flat and EVENT tables)', () => {
    const part = fc.tuple(fc.nat(500), fc.constantFrom('', '.5', '.25', '.001')).map(([w, f]) => `${w}${f}`);
    const positive = fc.tuple(fc.integer({ min: 1, max: 120 }), fc.constantFrom('', '.1', '.5')).map(([w, f]) => `${w}${f}`);
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 6 }), positive, positive, fc.boolean(), (parts, first, next, table) => {
        const tariff = table
          ? compileTariff('t', { unit: 'MB', increments: { first, next }, priceTable: { model: 'GRADUATED', basis: 'EVENT', tiers: [{ upTo: '100', unitPrice: '0.02', flatFee: '1' }, { upTo: null, unitPrice: '0.01' }] } })
          : compileTariff('t', { unit: 'MB', pricePerUnit: '0.0250', increments: { first, next } });
        let preceding = new Decimal(0);
        let units = new Decimal(0);
        let price = new Decimal(0);
        for (const q of parts) {
          const fast = fastUnitsAndPrice(tariff, q, preceding.toString());
          const before = fast.unitsBefore === undefined ? chargeableUnits(preceding, tariff) : new Decimal(fast.unitsBefore);
          expect(fast.units).toBe(partChargeableUnits(q, preceding.toString(), { first, next }));
          units = units.plus(fast.units);
          price = price.plus(fast.price ?? priceOf(tariff, new Decimal(fast.units), new Decimal(0), before));
          preceding = preceding.plus(q);
        }
        const whole = chargeableUnits(preceding, tariff);
        expect(units.toString()).toBe(whole.toString());
        // Each part's price is rounded to 6 places: the parts may miss the whole by that much per part.
        expect(price.minus(priceOf(tariff, whole, new Decimal(0))).abs().lte(new Decimal('0.000001').times(parts.length))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('callTotalCovered: the furthest total whose further parts cost at most the chargeable units held', () => {
    const grid = { first: '60', next: '60' };
    expect(callTotalCovered('60', '0', grid)).toBe('60');
    expect(callTotalCovered('37', '0', grid)).toBe('0');
    // 30 s used (60 charged), 60 more held: up to 120 s.
    expect(callTotalCovered('60', '30', grid)).toBe('120');
    // Nothing held: what the call paid for already.
    expect(callTotalCovered('0', '10', grid)).toBe('60');
    expect(callTotalCovered('0', '0', grid)).toBe('0');
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(1000), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 90 }), (held, preceding, first, next) => {
        const g = { first: String(first), next: String(next) };
        const covered = new Decimal(callTotalCovered(String(held), String(preceding), g));
        expect(covered.gte(preceding)).toBe(true);
        // Every total up to it is paid within what is held, one unit more is not (unless nothing more was covered).
        expect(new Decimal(partChargeableUnits(covered.minus(preceding).toString(), String(preceding), g)).lte(held)).toBe(true);
        expect(new Decimal(partChargeableUnits(covered.minus(preceding).plus('0.001').toString(), String(preceding), g)).gt(held)).toBe(true);
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
