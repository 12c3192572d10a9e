// grantBucket (staff) writes its input into columns of fixed size: bucket.allowance_id varchar(80),
// bucket.line_id and billing_account_id varchar(40), initial_quantity and the ledger entry
// NUMERIC(30,6), rollover_percent NUMERIC(7,3) (a percent: 0 to 100, as catalog's plans have it). An allowanceId of 81 characters or a lineId of 41
// failed in PostgreSQL (value too long) as INTERNAL_SERVER_ERROR. Now every input is checked
// before anything is written: BAD_USER_INPUT naming the field, nothing granted.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets({ LOG_LEVEL: 'fatal' }));
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const GRANT = `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id allowanceId lineId } } }`;
const answer = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => {
  const e = res.errors?.[0]?.extensions;
  return e ? { code: e.code, field: e.field } : 'accepted';
};

describe('grantBucket checks every input against its column before it writes', () => {
  it('an allowanceId over 80 characters, a lineId or billingAccountId over 40, a quantity too large, a rolloverPercent over 100: BAD_USER_INPUT naming the field, nothing granted', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const base = { billingAccountId, lineId: 'lin_1', allowanceId: 'data', unit: 'MB', quantity: '100', validFrom: '2026-11-01T00:00:00Z', validTo: '2026-12-01T00:00:00Z' };
    const cases: [string, Record<string, unknown>, string][] = [
      ['allowanceId 81', { allowanceId: 'a'.repeat(81) }, 'input.allowanceId'],
      ['lineId 41', { lineId: 'l'.repeat(41) }, 'input.lineId'],
      ['billingAccountId 41', { billingAccountId: 'b'.repeat(41) }, 'input.billingAccountId'],
      ['quantity 10^24', { quantity: '1'.padEnd(25, '0') }, 'input.quantity'],
      ['rolloverPercent 10000', { rolloverPercent: '10000' }, 'input.rolloverPercent'],
      ['rolloverPercent 101', { rolloverPercent: '101' }, 'input.rolloverPercent'],
      ['lineId empty', { lineId: '' }, 'input.lineId'],
    ];
    const got: [string, unknown][] = [];
    for (const [label, over] of cases) got.push([label, answer(await svc.request(GRANT, { i: { ...base, grantKey: uniq('g'), ...over } }))]);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(cases.map(([label, , field]) => [label, { code: 'BAD_USER_INPUT', field }])));
    expect(await dbOf(svc).query(`select id from bucket where billing_account_id = $1`, [billingAccountId])).toEqual([]);

    // At the columns' sizes it is granted.
    const fits = await gql(svc, GRANT, { i: { ...base, allowanceId: 'a'.repeat(80), lineId: 'l'.repeat(40), rolloverPercent: '50.125', grantKey: uniq('g') } });
    expect(fits.grantBucket.bucket).toMatchObject({ allowanceId: 'a'.repeat(80), lineId: 'l'.repeat(40) });
  });
});
