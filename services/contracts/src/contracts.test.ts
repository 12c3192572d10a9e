import { describe, expect, it } from 'vitest';
import { Kind, type GraphQLError } from 'graphql';
import { createCloudEvent, parseCloudEvent } from './cloudevents';
import { EVENTS } from './subjects';
import { DomainError, categorize, toGraphQLExtensions } from './errors';
import { DecimalScalar, DateTimeScalar, CurrencyCodeScalar } from './scalars';
import { decodeCaller, encodeCaller } from './caller';
import { CHARGES_PER_MESSAGE, chargeResultsOf, inChargeMessages } from './messages';

describe('event registry', () => {
  it('spells every subject as billing.<service>.<entity>.<event> in lower-case tokens', () => {
    for (const def of Object.values(EVENTS)) expect(def.subject).toMatch(/^billing\.[a-z]+\.[a-z]+\.[a-z]+$/);
  });

  it('has one subject per event', () => {
    const subjects = Object.values(EVENTS).map((e) => e.subject);
    expect(new Set(subjects).size).toBe(subjects.length);
  });
});

describe('CloudEvents envelope', () => {
  it('gives the same id to the same state change, and a different one to another', () => {
    const base = { source: 'ledgerline/invoicing', type: 'CustomerBillCreateEvent', time: new Date('2026-01-01T00:00:00Z'), data: {} };
    const a = createCloudEvent({ ...base, key: ['inv_1', 'NEW'] });
    const b = createCloudEvent({ ...base, key: ['inv_1', 'NEW'] });
    const c = createCloudEvent({ ...base, key: ['inv_1', 'SENT'] });
    expect(a.id).toBe(b.id);
    expect(a.id).not.toBe(c.id);
    expect(parseCloudEvent(JSON.stringify(a))).toEqual(JSON.parse(JSON.stringify(a)));
  });

  it('rejects a message that is not a CloudEvent', () => {
    expect(() => parseCloudEvent('{"id":"x"}')).toThrow(/specversion/);
  });
});

describe('errors', () => {
  it('maps codes to GraphQL categories', () => {
    expect(categorize('LINE_NOT_FOUND')).toBe('NOT_FOUND');
    expect(categorize('LINE_ILLEGAL_TRANSITION')).toBe('CONFLICT');
    expect(categorize('IDEMPOTENCY_KEY_REUSED')).toBe('CONFLICT');
    expect(categorize('WALLET_INSUFFICIENT_BALANCE')).toBe('BAD_USER_INPUT');
    const ext = toGraphQLExtensions(new DomainError('MSISDN_INVALID', 'bad', { field: 'input.msisdn' }));
    expect(ext).toEqual({ code: 'BAD_USER_INPUT', reason: 'MSISDN_INVALID', field: 'input.msisdn' });
  });
});

describe('scalars', () => {
  it('refuses numbers for Decimal so money never passes through a float', () => {
    expect(() => DecimalScalar.parseValue(12.5)).toThrow(/float/);
    expect(DecimalScalar.parseValue('12.50')).toBe('12.50');
  });
  it('needs an offset on DateTime', () => {
    expect(() => DateTimeScalar.parseValue('2026-01-01T00:00:00')).toThrow();
    expect(DateTimeScalar.parseValue('2026-01-01T01:00:00+01:00').toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });
  it('refuses a DateTime whose UTC year is outside 1..9999 (PostgreSQL cannot store it), by value and by literal', () => {
    const literal = (value: string) => DateTimeScalar.parseLiteral({ kind: Kind.STRING, value });
    const refused = (parse: () => unknown) => {
      try {
        parse();
      } catch (error) {
        return { code: (error as GraphQLError).extensions?.code, message: (error as Error).message };
      }
      return 'accepted';
    };
    for (const text of ['0000-01-01T00:00:00Z', '0000-12-31T23:59:59.999Z', '0001-01-01T00:00:00+01:00', '9999-12-31T23:59:59-23:59', '9999-12-31T23:00:00-01:00']) {
      for (const parse of [() => DateTimeScalar.parseValue(text), () => literal(text)]) {
        expect(refused(parse), text).toEqual({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z/) });
      }
    }
    // The edges PostgreSQL still holds stay accepted.
    for (const [text, utc] of [
      ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
      ['0001-01-01T00:59:59-00:01', '0001-01-01T01:00:59.000Z'],
      ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
      ['9999-12-31T23:59:59.9999999Z', '9999-12-31T23:59:59.999Z'],
      ['0001-01-01T00:30:00+00:30', '0001-01-01T00:00:00.000Z'],
      ['9999-12-31T23:59:59+00:00', '9999-12-31T23:59:59.000Z'],
    ] as const) {
      expect(DateTimeScalar.parseValue(text).toISOString(), text).toBe(utc);
      expect(literal(text).toISOString(), text).toBe(utc);
    }
  });
  it('knows currencies', () => {
    expect(() => CurrencyCodeScalar.parseValue('EURO')).toThrow();
    expect(CurrencyCodeScalar.parseValue('EUR')).toBe('EUR');
  });
});

describe('caller', () => {
  it('round-trips through its header', () => {
    const caller = { role: 'CUSTOMER' as const, subject: 'u1', customerId: 'cus_1', scopes: ['read'] };
    expect(decodeCaller(encodeCaller(caller))).toEqual({ ...caller, partnerId: undefined });
  });
});

describe('chargeResultsOf', () => {
  const r = (chargeId: string) => ({ chargeId, outcome: 'APPLIED', billingAccountId: 'acc_1', lineId: 'lin_1', paymentMode: 'PREPAID', usageType: 'DATA', occurredAt: '2026-11-25T10:00:00Z', units: '1', unit: 'MB', unitsFromAllowances: '0', amountCharged: '0.01', currency: 'EUR' });
  it('reads one result, a batch, or either inside a CloudEvent, and leaves out what is not a result', () => {
    expect(chargeResultsOf(r('a')).results.map((x) => x.chargeId)).toEqual(['a']);
    expect(chargeResultsOf([r('a'), r('b')]).results.map((x) => x.chargeId)).toEqual(['a', 'b']);
    expect(chargeResultsOf({ specversion: '1.0', data: [r('c')] }).results.map((x) => x.chargeId)).toEqual(['c']);
    expect(chargeResultsOf([r('a'), { chargeId: 7 }, null, 'x'])).toMatchObject({ invalid: 3, results: [{ chargeId: 'a' }] });
    expect(chargeResultsOf(null)).toEqual({ results: [], invalid: 1 });
  });
});

describe('inChargeMessages', () => {
  it('cuts a batch into messages of at most CHARGES_PER_MESSAGE, in order, with nothing lost', () => {
    const items = Array.from({ length: 2 * CHARGES_PER_MESSAGE + 1 }, (_, i) => i);
    const groups = inChargeMessages(items);
    expect(groups.map((g) => g.length)).toEqual([CHARGES_PER_MESSAGE, CHARGES_PER_MESSAGE, 1]);
    expect(groups.flat()).toEqual(items);
    expect(inChargeMessages([])).toEqual([]);
  });
});

