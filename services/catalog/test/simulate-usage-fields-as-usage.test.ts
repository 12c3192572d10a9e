/**
 * simulateRating (and comparePlans' records) handed its records to rating as typed, without usage's checks of a
 * record's fields: `roamingCountry: "fr"` or `""` and `visitedMcc: "2080"` were priced in the plan's default roaming
 * zone (WORLD2) where usage upper-cases "fr" (FR: EU), reads "" as not roaming (HOME) and rejects "2080"; "data",
 * "mo" or a quantity "05" were refused where usage takes them. A product manager signed off prices customers do not
 * pay. The fields are now checked by the one rule usage uses (rating's `checkUsageFields`): what usage normalises is
 * normalised, what it rejects is BAD_USER_INPUT naming the record's field, with usage's code and reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const SIMULATE = 'query($i: SimulateRatingInput!) { simulateRating(input: $i) { records { recordId rulesFired allowanceId chargedUnits charge } } }';
const COMPARE = 'query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode usageCharge } }';

/** One MB of data roamed on 3 March 2026 (a weekday), the fields under test over it. */
const data = (fields: Record<string, unknown>) => ({ id: 'r', usageType: 'DATA', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-03T10:00:00Z', ...fields });
/** A one-minute call to a German mobile number. */
const call = (fields: Record<string, unknown>) => ({ id: 'r', usageType: 'VOICE', direction: 'OUTGOING', quantity: '60', occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4915112345678', ...fields });

describe('simulateRating checks a record\'s fields as usage does', () => {
  let svc: TestService;
  let versionId: string;
  const simulate = (records: Record<string, unknown>[]) => svc.request(SIMULATE, { i: { planVersionId: versionId, records } });
  /** What the simulation makes of one record, without its id. */
  const priced = async (record: Record<string, unknown>) => {
    const r = await simulate([record]);
    expect(r.errors).toBeUndefined();
    const { recordId: _id, ...rest } = r.data.simulateRating.records[0];
    return rest;
  };

  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
    const r = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id } } }', { i: { document: readJson('plans/prepaid-payg.json') } });
    expect(r.errors).toBeUndefined();
    versionId = r.data.importPlan.version.id;
  });
  afterAll(() => svc?.close());

  it('prices "fr" as FR (EU roaming), not as the default roaming zone', async () => {
    const fr = await priced(data({ roamingCountry: 'FR' }));
    const world = await priced(data({ roamingCountry: 'BR' }));
    // The plan prices EU roaming and WORLD2 roaming apart: otherwise this test could not tell them apart.
    expect(fr.charge).not.toBe(world.charge);
    expect(await priced(data({ roamingCountry: 'fr' }))).toEqual(fr);
  });

  it.each([
    ['roamingCountry "fr"', data({ roamingCountry: 'fr' }), data({ roamingCountry: 'FR' })],
    ['roamingCountry " Fr "', data({ roamingCountry: ' Fr ' }), data({ roamingCountry: 'FR' })],
    ['roamingCountry "" (not roaming)', data({ roamingCountry: '' }), data({})],
    ['roamingCountry "  " (not roaming)', data({ roamingCountry: '  ' }), data({})],
    ['visitedMcc " 208 "', data({ visitedMcc: ' 208 ' }), data({ visitedMcc: '208' })],
    ['visitedMcc "" (not roaming)', data({ visitedMcc: '' }), data({})],
    ['usageType "data"', data({ usageType: 'data', roamingCountry: 'FR' }), data({ roamingCountry: 'FR' })],
    ['direction "mo"', call({ direction: 'mo' }), call({ direction: 'OUTGOING' })],
    ['direction "MT"', call({ direction: 'MT' }), call({ direction: 'INCOMING' })],
    ['direction "incoming"', call({ direction: 'incoming' }), call({ direction: 'INCOMING' })],
    ['quantity "060"', call({ quantity: '060' }), call({ quantity: '60' })],
    ['calledNumber "+49 151 1234-5678"', call({ calledNumber: '+49 151 1234-5678' }), call({ calledNumber: '+4915112345678' })],
  ])('normalises %s as usage does', async (_name, given, normalised) => {
    expect(await priced(given)).toEqual(await priced(normalised));
  });

  it.each([
    ['roamingCountry', { roamingCountry: 'FRA' }, 'ROAMING_COUNTRY_INVALID', 'roamingCountry "FRA" is not an ISO 3166 alpha-2 code'],
    ['roamingCountry', { roamingCountry: 'f1' }, 'ROAMING_COUNTRY_INVALID', 'roamingCountry "F1" is not an ISO 3166 alpha-2 code'],
    ['visitedMcc', { visitedMcc: '2080' }, 'VISITED_MCC_INVALID', 'visitedMcc "2080" is not a 3-digit mobile country code'],
    ['visitedMcc', { visitedMcc: '20a' }, 'VISITED_MCC_INVALID', 'visitedMcc "20a" is not a 3-digit mobile country code'],
    ['usageType', { usageType: 'FAX' }, 'USAGE_TYPE_INVALID', 'usageType "FAX" must be one of VOICE, SMS, MMS, DATA, CONTENT'],
    ['usageType', { usageType: ' ' }, 'USAGE_TYPE_INVALID', 'usageType is missing; it must be one of VOICE, SMS, MMS, DATA, CONTENT'],
    ['direction', { direction: 'sideways' }, 'DIRECTION_INVALID', 'direction "SIDEWAYS" must be OUTGOING, INCOMING, MO or MT'],
    ['quantity', { quantity: '0.0000001' }, 'QUANTITY_INVALID', 'quantity "0.0000001" is not a non-negative decimal with at most 6 decimals'],
    ['quantity', { quantity: '-1' }, 'QUANTITY_INVALID', 'quantity "-1" is not a non-negative decimal with at most 6 decimals'],
    ['quantity', { quantity: '1000000001' }, 'QUANTITY_TOO_LARGE', 'quantity 1000000001 is above the 1000000000 limit of one record'],
    ['occurredAt', { occurredAt: '1969-12-31T23:00:00Z' }, 'OCCURRED_AT_INVALID', 'occurredAt 1969-12-31T23:00:00.000Z is before 1970'],
    ['calledNumber', { calledNumber: 'call me' }, 'CALLED_NUMBER_INVALID', 'calledNumber "call me" is not a phone number'],
  ])('refuses %s %j as usage rejects it: BAD_USER_INPUT naming the record\'s field, usage\'s code and reason', async (field, fields, reason, message) => {
    const r = await simulate([data({ id: 'ok' }), { ...data({ id: 'bad' }), ...fields }]);
    expect(r.data ?? null).toBeNull();
    expect({ message: r.errors?.[0]?.message, ...r.errors?.[0]?.extensions }).toMatchObject({ message, code: 'BAD_USER_INPUT', reason, field: `input.records[1].${field}` });
  });

  it('comparePlans checks its records alike', async () => {
    const compare = (record: Record<string, unknown>) => svc.request(COMPARE, { i: { planCodes: ['PREPAID_PAYG'], records: [record] } });
    const upper = await compare(data({ roamingCountry: 'FR' }));
    expect(upper.errors).toBeUndefined();
    expect((await compare(data({ roamingCountry: 'fr' }))).data).toEqual(upper.data);
    const refused = await compare(data({ visitedMcc: '2080' }));
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'VISITED_MCC_INVALID', field: 'input.records[0].visitedMcc' });
  });

  it('still dates a record after the service\'s clock (a simulation of a version to come)', async () => {
    const r = await simulate([data({ occurredAt: '2027-06-01T10:00:00Z' })]);
    expect(r.errors).toBeUndefined();
  });
});
