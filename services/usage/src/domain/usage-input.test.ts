import { describe, expect, it } from 'vitest';
import { quantityText, validateUsage } from './usage-input';

const now = new Date('2026-03-20T12:00:00Z');
const good = { eventId: 'e1', lineId: 'lin_1', usageType: 'DATA', quantity: '12.5', occurredAt: '2026-03-20T11:00:00Z' };

describe('validateUsage', () => {
  it('normalises a good record (MO → OUTGOING, unit from the usage type, MSISDN in E.164)', () => {
    const r = validateUsage({ ...good, lineId: undefined, msisdn: '49 151 0000 0001', direction: 'mo', usageType: 'voice' }, { source: 'api' }, now);
    expect(r).toMatchObject({ ok: true, usage: { source: 'api', eventId: 'e1', msisdn: '+4915100000001', usageType: 'VOICE', direction: 'OUTGOING', unit: 'SECOND', quantity: '12.5' } });
  });

  it('reads precedingQuantity (a later part of one call) only on records of the `partsOf` source', () => {
    const part = { ...good, source: 'ocs', precedingQuantity: '30' };
    expect(validateUsage(part, { source: 'api', partsOf: 'ocs' }, now)).toMatchObject({ ok: true, usage: { quantity: '12.5', precedingQuantity: '30' } });
    // From any other source, or with no partsOf, the field is not read: the record is a call of its own.
    expect((validateUsage({ ...part, source: 'api' }, { source: 'api', partsOf: 'ocs' }, now) as { usage: object }).usage).not.toHaveProperty('precedingQuantity');
    expect((validateUsage(part, { source: 'api' }, now) as { usage: object }).usage).not.toHaveProperty('precedingQuantity');
    expect((validateUsage({ ...part, precedingQuantity: '0.000' }, { source: 'api', partsOf: 'ocs' }, now) as { usage: object }).usage).not.toHaveProperty('precedingQuantity');
    expect(validateUsage({ ...part, precedingQuantity: '-1' }, { source: 'api', partsOf: 'ocs' }, now)).toMatchObject({ ok: false, rejection: { code: 'QUANTITY_INVALID' } });
  });

  it('reads a quantity with leading zeros as the number it writes, in rating\'s decimal format (quantityText)', () => {
    expect(['05', '00.50', '000', '0.5', '10', 7, ' 012 '].map(quantityText)).toEqual(['5', '0.50', '0', '0.5', '10', '7', '12']);
    expect(['-05', '0x5', '.5', '5.', '1e3', 5.5, '05.1234567'].map(quantityText)).toEqual(Array(7).fill(undefined));
    expect(validateUsage({ ...good, quantity: '0012.5' }, { source: 'api' }, now)).toMatchObject({ ok: true, usage: { quantity: '12.5' } });
    expect(validateUsage({ ...good, source: 'ocs', precedingQuantity: '030' }, { source: 'api', partsOf: 'ocs' }, now)).toMatchObject({ ok: true, usage: { precedingQuantity: '30' } });
  });

  it.each([
    ['not an object', 'garbage', 'RECORD_MALFORMED'],
    ['an array', [1, 2], 'RECORD_MALFORMED'],
    ['no event id', { ...good, eventId: undefined }, 'EVENT_ID_MISSING'],
    ['an event id too long', { ...good, eventId: 'x'.repeat(129) }, 'EVENT_ID_INVALID'],
    ['no subscriber', { ...good, lineId: undefined }, 'SUBSCRIBER_MISSING'],
    ['a bad MSISDN', { ...good, lineId: undefined, msisdn: 'call me' }, 'MSISDN_INVALID'],
    ['an unknown usage type', { ...good, usageType: 'FAX' }, 'USAGE_TYPE_INVALID'],
    ['no usage type', { ...good, usageType: null }, 'USAGE_TYPE_INVALID'],
    ['a bad direction', { ...good, direction: 'SIDEWAYS' }, 'DIRECTION_INVALID'],
    ['no quantity', { ...good, quantity: undefined }, 'QUANTITY_INVALID'],
    ['a float quantity', { ...good, quantity: 12.5 }, 'QUANTITY_INVALID'],
    ['a negative quantity', { ...good, quantity: '-1' }, 'QUANTITY_INVALID'],
    ['an exponent quantity', { ...good, quantity: '1e3' }, 'QUANTITY_INVALID'],
    ['too many decimals', { ...good, quantity: '1.1234567' }, 'QUANTITY_INVALID'],
    ['a huge quantity', { ...good, quantity: '999999999999' }, 'QUANTITY_TOO_LARGE'],
    ['no time', { ...good, occurredAt: undefined }, 'OCCURRED_AT_INVALID'],
    ['a time without offset', { ...good, occurredAt: '2026-03-20T11:00:00' }, 'OCCURRED_AT_INVALID'],
    ['an impossible date', { ...good, occurredAt: '2026-02-31T11:00:00Z' }, 'OCCURRED_AT_INVALID'],
    ['29 February of a common year', { ...good, occurredAt: '2025-02-29T11:00:00Z' }, 'OCCURRED_AT_INVALID'],
    ['31 April', { ...good, occurredAt: '2026-04-31T11:00:00Z' }, 'OCCURRED_AT_INVALID'],
    ['hour 24', { ...good, occurredAt: '2026-03-20T24:00:00Z' }, 'OCCURRED_AT_INVALID'],
    ['minute 60', { ...good, occurredAt: '2026-03-20T11:60:00Z' }, 'OCCURRED_AT_INVALID'],
    ['a future time', { ...good, occurredAt: '2026-03-21T11:00:00Z' }, 'OCCURRED_AT_IN_FUTURE'],
    ['a bad called number', { ...good, calledNumber: 'hello' }, 'CALLED_NUMBER_INVALID'],
    ['a bad roaming country', { ...good, roamingCountry: 'USA' }, 'ROAMING_COUNTRY_INVALID'],
    ['a bad MCC', { ...good, visitedMcc: '31' }, 'VISITED_MCC_INVALID'],
    // PostgreSQL stores no NUL in text and has no year 0000: each failed the whole batch's insert.
    ['a NUL in its event id', { ...good, eventId: 'e\u0000' }, 'RECORD_MALFORMED'],
    ['a NUL in its called number', { ...good, calledNumber: '+4930\u0000' }, 'RECORD_MALFORMED'],
    ['the year 0000', { ...good, occurredAt: '0000-01-01T00:00:00Z' }, 'OCCURRED_AT_INVALID'],
    ['a time before 1970', { ...good, occurredAt: '1969-12-31T23:59:59Z' }, 'OCCURRED_AT_INVALID'],
  ])('rejects a record with %s', (_, raw, code) => {
    const r = validateUsage(raw, { source: 'api' }, now);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.rejection.code).toBe(code);
      expect(r.rejection.reason.length).toBeGreaterThan(5);
      expect(r.eventId).toBeTruthy();
    }
  });

  it.each(['2024-02-29T23:59:59Z', '2000-02-29T00:00:00Z', '2026-01-31T00:00:00+01:00', '2025-12-31T23:59:59.999Z'])('accepts the real calendar instant %s', (occurredAt) => {
    expect(validateUsage({ ...good, occurredAt }, { source: 'api' }, now).ok).toBe(true);
  });

  it('keeps what it stores of a rejected record storable: a NUL in its ids shows as U+FFFD', () => {
    const r = validateUsage({ ...good, source: 'sw\u0000', eventId: 'e\u0000' }, { source: 'api' }, now);
    expect(r).toMatchObject({ ok: false, source: 'sw\uFFFD', eventId: 'e\uFFFD', rejection: { code: 'RECORD_MALFORMED', reason: expect.stringMatching(/^(source|eventId) contains a NUL character$/) } });
  });

  it('refuses 29 February 1900 (a century, not a leap year)', () => {
    const r = validateUsage({ ...good, occurredAt: '1900-02-29T00:00:00Z' }, { source: 'api' }, now);
    expect(r.ok ? 'accepted' : r.rejection.code).toBe('OCCURRED_AT_INVALID');
  });

  it('gives a record without an id a content id, so a resend is still a duplicate', () => {
    const a = validateUsage({ ...good, eventId: undefined }, { source: 'api' }, now);
    const b = validateUsage({ ...good, eventId: undefined }, { source: 'api' }, now);
    expect(!a.ok && !b.ok && a.eventId === b.eventId && a.eventId.startsWith('noid:')).toBe(true);
  });
});
