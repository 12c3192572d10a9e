// A reserve whose figures or names do not fit the columns they are written to (reservation.unit and
// ledger_entry.unit varchar(20), reservation.line_id varchar(40), requested_units / money_reserved and ledger
// amounts NUMERIC(30,6), price_per_unit NUMERIC(30,10)) passed checkReserve and failed in PostgreSQL when it was
// granted: GraphQL reserveBalance answered INTERNAL_SERVER_ERROR, and over NATS the reply was INTERNAL carrying
// PostgreSQL's text ("value too long for type character varying(20)"), its batch failed and was retried request by
// request. Now they are refused before the database as the other bad reserve input: RATING_FAILED naming the field.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WalletReserveRequest } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { closeMany, reserveMany } from '../src/application/reservations';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const RESERVE = `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } error { code message } } }`;
const request = (billingAccountId: string, over: Partial<WalletReserveRequest> = {}): WalletReserveRequest => ({
  requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '1', pricePerUnit: '1', allowanceIds: [], allowOverdraft: false, ...over,
});

describe('reserve input that does not fit its columns is refused naming the field, not INTERNAL', () => {
  it.each([
    ['unit', { unit: 'U'.repeat(21) }],
    ['lineId', { lineId: 'l'.repeat(41) }],
    ['requestedUnits', { requestedUnits: '1'.repeat(25) }],
    ['pricePerUnit', { pricePerUnit: '9'.repeat(21) }],
    ['requestedUnits', { requestedUnits: '1000000000000000', pricePerUnit: '100000000000' }],
  ])('%s (GraphQL reserveBalance, a postpaid wallet without a credit limit: it would be granted)', async (field, over) => {
    const { billingAccountId } = await openPrepaid(svc, { paymentMode: 'POSTPAID' });
    const res = await svc.request(RESERVE, { i: { ...request(billingAccountId), ...over } });
    expect(res.errors).toBeUndefined();
    expect(res.data.reserveBalance).toMatchObject({ resultCode: 'RATING_FAILED', reservation: null });
    expect(res.data.reserveBalance.error.message).toContain(field);
  });

  it('in a batch: the others are decided as usual, the sizes just inside the columns are granted', async () => {
    const { billingAccountId } = await openPrepaid(svc, { paymentMode: 'POSTPAID' });
    const replies = await dbOf(svc).tx((sql) => reserveMany(sql, [
      request(billingAccountId, { unit: 'U'.repeat(21) }),
      request(billingAccountId, { unit: 'U'.repeat(20), lineId: 'l'.repeat(40) }),
      request(billingAccountId, { requestedUnits: '1000000', pricePerUnit: '1000' }),
    ], T0));
    expect(replies.map((r) => [r.resultCode, r.error?.code ?? null])).toEqual([['RATING_FAILED', 'INVALID_INPUT'], ['SUCCESS', null], ['SUCCESS', null]]);
    await dbOf(svc).tx((sql) => closeMany(sql, replies.slice(1).map((r) => ({ reservationId: r.reservationId!, usedUnits: '0', closing: 'RELEASED' as const })), T0));
  });
});
