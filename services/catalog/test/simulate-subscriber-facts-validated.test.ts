/**
 * simulateRating's subscriber facts were free strings: `lineStatus: "active"` denied every record
 * as LINE_active, a misspelt customerType matched no rule, a line count of -1 or a million was rated, and the
 * product manager read it as their plan's answer. Each is now refused as BAD_USER_INPUT naming the
 * field; the values rating tells apart still simulate (comparePlans takes the same input).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { readJson, startCatalog } from './support';

const SIMULATE = 'query($i: SimulateRatingInput!) { simulateRating(input: $i) { denied records { decision denyReason } } }';
const COMPARE = 'query($i: ComparePlansInput!) { comparePlans(input: $i) { planCode } }';
const record = { id: 'r1', usageType: 'SMS', quantity: '1', occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4915112345678' };

describe('simulateRating refuses subscriber facts rating does not know', () => {
  let svc: TestService;
  let versionId: string;
  const simulate = (subscriber: Record<string, unknown>) => svc.request(SIMULATE, { i: { planVersionId: versionId, records: [record], subscriber } });

  beforeAll(async () => {
    svc = await startCatalog('2026-03-01T09:00:00Z');
    const r = await svc.request('mutation($i: ImportPlanInput!) { importPlan(input: $i) { version { id } } }', { i: { document: readJson('plans/prepaid-payg.json') } });
    expect(r.errors).toBeUndefined();
    versionId = r.data.importPlan.version.id;
  });
  afterAll(() => svc?.close());

  it.each([
    ['lineStatus', { lineStatus: 'active' }],
    ['lineStatus', { lineStatus: 'TERMINATED' }],
    ['customerType', { customerType: 'BUISNESS' }],
    ['lineCount', { lineCount: -1 }],
    ['lineCount', { lineCount: 10_001 }],
    ['lineCount', { lineCount: 1_000_000 }],
  ])('%s %j: BAD_USER_INPUT naming the field', async (field, subscriber) => {
    const r = await simulate(subscriber);
    expect(r.data ?? null).toBeNull();
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: `input.subscriber.${field}` });
  });

  it('comparePlans refuses them the same way', async () => {
    const r = await svc.request(COMPARE, { i: { planCodes: ['PREPAID_PAYG'], records: [record], subscriber: { lineCount: -3 } } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.subscriber.lineCount' });
  });

  it('the values rating knows still simulate: a suspended line is denied, an active one rated', async () => {
    const suspended = await simulate({ lineStatus: 'SUSPENDED', customerType: 'BUSINESS', lineCount: 5 });
    expect(suspended.errors).toBeUndefined();
    expect(suspended.data.simulateRating.records).toEqual([{ decision: 'DENIED', denyReason: 'LINE_SUSPENDED' }]);
    const active = await simulate({ lineStatus: 'ACTIVE', customerType: 'INDIVIDUAL', lineCount: 0 });
    expect(active.errors).toBeUndefined();
    expect(active.data.simulateRating.denied).toBe(0);
  });
});
