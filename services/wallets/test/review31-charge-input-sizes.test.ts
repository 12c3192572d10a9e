// review31: a charge whose money did not fit the ledger's NUMERIC(30,6) (units × pricePerUnit, or a rated amount, of
// 10^24 or more) passed invalidCharge and failed in PostgreSQL: applyCharge answered INTERNAL_SERVER_ERROR, and a
// charge message from usage failed its whole batch (redelivered, failing again). Now the figures are held to the
// limits a reserve's are (checkReserve: UNIT_MAX, UNITS_LIMIT, PRICE_LIMIT, one place) before the database: DENIED
// RATING_FAILED naming the field; a unit, units or price past them (charged before, as they reach no column) too,
// so what a reserve refuses a charge does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, charge, dbOf, expectInvariants, openPrepaid, startWallets } from './support';
import { applyCharges } from '../src/application/apply-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

describe('review31: charge input that does not fit its columns is refused naming the field, not INTERNAL', () => {
  it.each([
    ['unit', { unit: 'U'.repeat(21) }],
    ['units', { units: '1'.repeat(25), pricePerUnit: '0' }],
    ['pricePerUnit', { pricePerUnit: '9'.repeat(21) }],
    ['units', { units: '1000000000000000', pricePerUnit: '100000000000' }],
  ])('%s (GraphQL applyCharge, a postpaid wallet without a credit limit: it would be charged)', async (field, over) => {
    const { billingAccountId } = await openPrepaid(svc, { paymentMode: 'POSTPAID' });
    const res = await svc.request<any>(APPLY, { i: charge(billingAccountId, { paymentMode: 'POSTPAID', ...over }) });
    expect(res.errors).toBeUndefined();
    expect(res.data.applyCharge.result).toMatchObject({ outcome: 'DENIED' });
    expect(res.data.applyCharge.result.reason).toMatch(new RegExp(`^RATING_FAILED: ${field} `));
  });

  it('in a batch (as from usage, amounts rated there and adjustments too): the others are charged, the sizes just inside the columns too', async () => {
    const { billingAccountId } = await openPrepaid(svc, { paymentMode: 'POSTPAID' });
    const results = await applyCharges(dbOf(svc), [
      charge(billingAccountId, { paymentMode: 'POSTPAID', amount: '1'.repeat(25) }),
      charge(billingAccountId, { paymentMode: 'POSTPAID', kind: 'ADJUSTMENT', pricePerUnit: '-1', amount: `-${'1'.repeat(25)}` }),
      charge(billingAccountId, { paymentMode: 'POSTPAID', unit: 'U'.repeat(20), lineId: 'l'.repeat(40) }),
      charge(billingAccountId, { paymentMode: 'POSTPAID', units: '1000000', pricePerUnit: '1000' }),
      charge(billingAccountId, { paymentMode: 'POSTPAID', amount: '99999999999999999999999.999999' }),
    ] as never, T0);
    expect(results.map((r) => [r.outcome, r.reason?.slice(0, 21) ?? null])).toEqual([['DENIED', 'RATING_FAILED: amount'], ['DENIED', 'RATING_FAILED: amount'], ['APPLIED', null], ['APPLIED', null], ['APPLIED', null]]);
  });
});

