// Allowance notifications (50/80/100 % used) tell the customer what was used of the allowance.
//
// 1. Units a session holds are not used: a hold says nothing (even one that holds all that is
//    left), the commit says what its used units crossed, and a release leaves nothing behind, so
//    using the units up later says "used up" once. A charge made while a session holds units of the
//    same allowance does not count the held units as used.
// 2. An allowance is judged on all its active buckets (the period's own, its rollover, an add-on):
//    the rollover bucket, drawn first, running out is not "Your data allowance is used up" while
//    the period's own units are untouched; crossings are said once per allowance, for used vs
//    granted in total.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { APPLY, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, T0, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const GRANT = `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`;

async function grant(billingAccountId: string, quantity: string, priority = 100) {
  return (await gql(svc, GRANT, { i: { billingAccountId, allowanceId: 'data', name: 'data', unit: 'MB', quantity, priority, validFrom: new Date(T0.getTime() - DAY).toISOString(), validTo: new Date(T0.getTime() + 30 * DAY).toISOString(), grantKey: uniq('grant') } })).grantBucket.bucket.id as string;
}

const notes = async (billingAccountId: string) =>
  (await dbOf(svc).query<{ kind: string; message: string }>(`select kind, message from notification where billing_account_id = $1 and kind like 'BUCKET_%' order by kind`, [billingAccountId])).map((n) => n.kind);
const messages = async (billingAccountId: string) =>
  (await dbOf(svc).query<{ message: string }>(`select message from notification where billing_account_id = $1 and kind like 'BUCKET_%' order by kind`, [billingAccountId])).map((n) => n.message);

const RESERVE = `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode grantedUnit { units unitsFromAllowances } reservation { id } } }`;
const COMMIT = `mutation($i: CommitReservationInput!) { commitReservation(input: $i) { resultCode } }`;
async function hold(billingAccountId: string, units: string): Promise<string> {
  const r = await gql(svc, RESERVE, { i: { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: units, pricePerUnit: '0.01', allowanceIds: ['data'] } });
  expect(r.reserveBalance).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { unitsFromAllowances: units } });
  return r.reserveBalance.reservation.id;
}

describe('allowance threshold notifications', () => {
  it('a reservation that is released says nothing about the allowance; using it up later says "used up" once', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    await grant(billingAccountId, '100');
    const reserved = await gql(svc, `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } } }`, {
      i: { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '100', pricePerUnit: '0.01', allowanceIds: ['data'] },
    });
    expect(reserved.reserveBalance.resultCode).toBe('SUCCESS');
    const duringHold = await notes(billingAccountId);
    await gql(svc, `mutation($i: ReleaseReservationInput!) { releaseReservation(input: $i) { resultCode } }`, { i: { reservationId: reserved.reserveBalance.reservation.id } });
    const afterRelease = await notes(billingAccountId);
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '100', allowanceIds: ['data'] }) }); // now really used up
    const afterUse = await notes(billingAccountId);
    expect({ duringHold, afterRelease, afterUse }).toEqual({ duringHold: [], afterRelease: [], afterUse: ['BUCKET_100', 'BUCKET_50', 'BUCKET_80'] });
  });

  it('emptying the rollover bucket of an allowance does not tell the customer the allowance is used up while its main bucket is full', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    await grant(billingAccountId, '1000', 100); // this period's data
    await grant(billingAccountId, '100', 50); // carried over from last period, drawn first
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '100', allowanceIds: ['data'] }) });
    const left = (await gql(svc, `query($a: ID!) { buckets(billingAccountId: $a) { remaining } }`, { a: billingAccountId })).buckets.map((b: { remaining: string }) => b.remaining);
    const said = await notes(billingAccountId);
    expect({ left, usedUpNotices: said.filter((k) => k === 'BUCKET_100') }).toEqual({ left: expect.arrayContaining(['1000']), usedUpNotices: [] });
  });

  it('a commit says what its used units crossed, not what the session held', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    await grant(billingAccountId, '100');
    const first = await hold(billingAccountId, '100');
    await gql(svc, COMMIT, { i: { reservationId: first, usedUnits: '60' } });
    const afterFirst = await messages(billingAccountId);
    const second = await hold(billingAccountId, '40'); // all that is left: nothing said
    const duringSecond = await notes(billingAccountId);
    await gql(svc, COMMIT, { i: { reservationId: second, usedUnits: '40' } });
    expect({ afterFirst, duringSecond, afterSecond: await notes(billingAccountId) }).toEqual({
      afterFirst: ['You have used 50% of your data allowance (40 MB left).'],
      duringSecond: ['BUCKET_50'],
      afterSecond: ['BUCKET_100', 'BUCKET_50', 'BUCKET_80'],
    });
  });

  it('a charge made while a session holds units of the allowance does not count them as used', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    await grant(billingAccountId, '100');
    const held = await hold(billingAccountId, '60');
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '40', allowanceIds: ['data'] }) }); // the bucket is empty, 40 % used
    const afterCharge = await notes(billingAccountId);
    await gql(svc, COMMIT, { i: { reservationId: held, usedUnits: '10' } }); // 50 % used
    expect({ afterCharge, afterCommit: await messages(billingAccountId) }).toEqual({ afterCharge: [], afterCommit: ['You have used 50% of your data allowance (50 MB left).'] });
  });

  it('the allowance is used up when its last bucket is: told once, under the period\'s own bucket', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    const main = await grant(billingAccountId, '1000', 100);
    await grant(billingAccountId, '100', 50);
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '600', allowanceIds: ['data'] }) }); // 600 of 1100: 54 %
    const half = await messages(billingAccountId);
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '500', allowanceIds: ['data'] }) });
    const all = await dbOf(svc).query<{ kind: string; bucket_id: string }>(`select kind, bucket_id from notification where billing_account_id = $1 and kind like 'BUCKET_%' order by kind`, [billingAccountId]);
    expect({ half, all }).toEqual({
      half: ['You have used 50% of your data allowance (500 MB left).'],
      all: [{ kind: 'BUCKET_100', bucket_id: main }, { kind: 'BUCKET_50', bucket_id: main }, { kind: 'BUCKET_80', bucket_id: main }],
    });
  });
});
