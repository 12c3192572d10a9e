import { describe, expect, it } from 'vitest';
import { checkUsageFields } from './usage-fields';

const now = new Date('2026-03-20T12:00:00Z');
const good = { usageType: 'DATA', quantity: '12.5', occurredAt: '2026-03-20T11:00:00Z' };

describe('checkUsageFields: the one check of a usage record\'s rating fields (usage ingestion, catalog simulation)', () => {
  it('normalises as usage stores: case, blanks, MO/MT, leading zeros, number spacing; a blank optional field is not given', () => {
    const r = checkUsageFields({ usageType: ' data ', direction: 'mt', quantity: '012.50', occurredAt: '2026-03-20T11:00:00+01:00', calledNumber: '+49 (30) 123-45', roamingCountry: ' fr ', visitedMcc: ' 208 ' }, { now });
    expect(r).toEqual({ ok: true, fields: { usageType: 'DATA', direction: 'INCOMING', quantity: '12.50', occurredAt: new Date('2026-03-20T10:00:00Z'), calledNumber: '+493012345', roamingCountry: 'FR', visitedMcc: '208' } });
    expect(checkUsageFields({ ...good, roamingCountry: '', visitedMcc: '  ', calledNumber: '' }, { now })).toEqual({ ok: true, fields: { usageType: 'DATA', direction: 'OUTGOING', quantity: '12.5', occurredAt: new Date(good.occurredAt) } });
  });

  it.each([
    [{ usageType: 'FAX' }, 'USAGE_TYPE_INVALID', 'usageType', 'usageType "FAX" must be one of VOICE, SMS, MMS, DATA, CONTENT'],
    [{ direction: 'up' }, 'DIRECTION_INVALID', 'direction', 'direction "UP" must be OUTGOING, INCOMING, MO or MT'],
    [{ quantity: 1.5 }, 'QUANTITY_INVALID', 'quantity', 'quantity must be a decimal string such as "12.5" (fractional numbers are not accepted as JSON numbers)'],
    [{ quantity: '1.1234567' }, 'QUANTITY_INVALID', 'quantity', 'quantity "1.1234567" is not a non-negative decimal with at most 6 decimals'],
    [{ quantity: '1000000001' }, 'QUANTITY_TOO_LARGE', 'quantity', 'quantity 1000000001 is above the 1000000000 limit of one record'],
    [{ occurredAt: '2026-02-31T11:00:00Z' }, 'OCCURRED_AT_INVALID', 'occurredAt', 'occurredAt "2026-02-31T11:00:00Z" is not an ISO 8601 instant with an offset, e.g. 2026-03-14T08:15:00Z'],
    [{ occurredAt: '1969-12-31T23:59:59Z' }, 'OCCURRED_AT_INVALID', 'occurredAt', 'occurredAt 1969-12-31T23:59:59Z is before 1970'],
    [{ occurredAt: '2026-03-20T12:06:00Z' }, 'OCCURRED_AT_IN_FUTURE', 'occurredAt', 'occurredAt 2026-03-20T12:06:00.000Z is in the future'],
    [{ calledNumber: 'hello' }, 'CALLED_NUMBER_INVALID', 'calledNumber', 'calledNumber "hello" is not a phone number'],
    [{ roamingCountry: 'fra' }, 'ROAMING_COUNTRY_INVALID', 'roamingCountry', 'roamingCountry "FRA" is not an ISO 3166 alpha-2 code'],
    [{ visitedMcc: '2080' }, 'VISITED_MCC_INVALID', 'visitedMcc', 'visitedMcc "2080" is not a 3-digit mobile country code'],
  ])('refuses %j: %s at its field, with the reason usage stores', (fields, code, field, reason) => {
    expect(checkUsageFields({ ...good, ...fields }, { now })).toMatchObject({ ok: false, rejection: { code, field, reason } });
  });

  it('reports the fields accepted before the refused one (usage stores them with the rejected record)', () => {
    expect(checkUsageFields({ ...good, direction: 'mo', calledNumber: 'x' }, { now })).toEqual({
      ok: false,
      rejection: expect.objectContaining({ field: 'calledNumber' }),
      partial: { usageType: 'DATA', direction: 'OUTGOING', quantity: '12.5', occurredAt: new Date(good.occurredAt) },
    });
  });

  it('checks the clock only when given now (a simulation prices usage to come), and reads precedingQuantity only when asked', () => {
    expect(checkUsageFields({ ...good, occurredAt: '2027-06-01T00:00:00Z' }).ok).toBe(true);
    expect(checkUsageFields({ ...good, precedingQuantity: '030' }, { now })).toMatchObject({ ok: true, fields: expect.not.objectContaining({ precedingQuantity: expect.anything() }) });
    expect(checkUsageFields({ ...good, precedingQuantity: '030' }, { now, readPrecedingQuantity: true })).toMatchObject({ ok: true, fields: { precedingQuantity: '30' } });
    expect(checkUsageFields({ ...good, precedingQuantity: '-1' }, { now, readPrecedingQuantity: true })).toMatchObject({ ok: false, rejection: { code: 'QUANTITY_INVALID', field: 'precedingQuantity' } });
  });
});
