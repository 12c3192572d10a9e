/**
 * Usage compiles the published version a subscription is pinned to in rating mode: rules added to
 * authoring later (AMOUNT_PRECISION, empty `all`/`any` lists) do not turn a version that rated
 * yesterday into PLAN_INVALID (which rejects every usage record of its subscribers); a document
 * rating cannot read safely still answers PLAN_INVALID, naming the node.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { OfferDocument } from '@ledgerline/rating';
import { fileOffers, PlanCache } from './plan-cache';

const postpaid = () => JSON.parse(fs.readFileSync(new URL('../../../../catalog/plans/postpaid-20gb.json', import.meta.url), 'utf8'));
const cacheOf = (document: unknown) => new PlanCache({ load: async (id) => ({ id, version: '7', document }), offers: async (): Promise<OfferDocument[]> => fileOffers() });
const sms = { id: 'e1', usageType: 'SMS', direction: 'OUTGOING', quantity: '1', occurredAt: '2026-03-03T10:00:00Z', calledNumber: '+4915112345678' } as const;
const ctx = { accountType: 'POSTPAID', lineStatus: 'ACTIVE' } as const;

describe('plan cache: a version published under older authoring rules', () => {
  it('compiles and rates (fee finer than a cent, an {"all": []} catch-all)', async () => {
    const doc = postpaid();
    doc.recurringFee.amount = '29.995';
    doc.rules.push({ name: 'anything-else', priority: 1, conditions: { all: [] }, event: { type: 'rate', params: { unit: 'ITEM', pricePerUnit: '0.99' } } });
    const lookup = await cacheOf(doc).get('plv_1');
    if (!lookup.ok) throw new Error(lookup.reason);
    expect((await lookup.rater.rate(sms, ctx)).decision).toBe('RATED');
    expect(await lookup.rater.rate({ ...sms, id: 'e2', usageType: 'CONTENT', calledNumber: undefined }, ctx)).toMatchObject({ decision: 'RATED', pricePerUnit: '0.99' });
  });

  it('answers PLAN_INVALID for a node mixing a leaf and a group, naming it', async () => {
    const doc = postpaid();
    doc.rules.push({ name: 'mixed', priority: 100, conditions: { all: [{ fact: 'usageType', operator: 'equal', value: 'CONTENT', any: [{ fact: 'timeBand', operator: 'equal', value: 'NIGHT' }] }] }, event: { type: 'deny', params: { reason: 'NIGHT' } } });
    const lookup = await cacheOf(doc).get('plv_2');
    expect(lookup).toMatchObject({ ok: false, code: 'PLAN_INVALID', reason: expect.stringContaining(`/rules/${doc.rules.length - 1}/conditions/all/0: A condition is either a leaf`) });
  });
});
