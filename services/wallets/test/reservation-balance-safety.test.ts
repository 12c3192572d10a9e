// Guard tests (adversarial review of prepaid balance safety around online-charging reservations):
// a prepaid balance never spends more than it has, never loses or doubles money, under late or
// repeated closes, oversized commits, concurrent reserves and allowanceIds naming buckets the
// request may not draw on. Each passed on the code as reviewed (no bug found); they pin the rules.
// Real PostgreSQL; the ledger invariants are checked after each test.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WalletReserveRequest } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { closeMany, reserve } from '../src/application/reservations';
import { runWalletJobs } from '../src/jobs/jobs';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const request = (billingAccountId: string, over: Partial<WalletReserveRequest> = {}): WalletReserveRequest => ({
  requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '10', pricePerUnit: '0.10', allowanceIds: [], allowOverdraft: false, ...over,
});
const reserveAt = (req: WalletReserveRequest, at: Date) => dbOf(svc).tx((sql) => reserve(sql, req, at));
const close = (reservationId: string, usedUnits: string, closing: 'COMMITTED' | 'RELEASED', at: Date) => dbOf(svc).tx(async (sql) => (await closeMany(sql, [{ reservationId, usedUnits, closing }], at))[0]!);
const grant = (billingAccountId: string, over: Record<string, unknown> = {}) =>
  gql(svc, `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
    i: { billingAccountId, allowanceId: 'data', unit: 'MB', quantity: '100', validFrom: new Date(T0.getTime() - DAY).toISOString(), validTo: new Date(T0.getTime() + 30 * DAY).toISOString(), grantKey: uniq('g'), ...over },
  }).then((d) => d.grantBucket.bucket.id as string);
const remaining = async (bucketId: string) => (await dbOf(svc).query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [bucketId]))[0]!.balance;

describe('reservations: prepaid balance safety', () => {
  it('a commit after the expiry gave the hold back (and another session spent it) charges nothing and answers EXPIRED', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    const start = clock.now();
    const first = await reserveAt(request(billingAccountId, { validitySeconds: 60 }), start);
    expect(first).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '10', amount: '1.000000' } });
    expect(await balanceOf(svc, walletId)).toBe('0');
    clock.advance(61_000);
    expect((await runWalletJobs(dbOf(svc), clock.now())).reservationsExpired).toBeGreaterThanOrEqual(1);
    expect(await balanceOf(svc, walletId)).toBe('1');
    // Another session takes the money given back, and uses it.
    const second = await reserveAt(request(billingAccountId), clock.now());
    expect(second).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '10' } });
    expect(await close(second.reservationId!, '10', 'COMMITTED', clock.now())).toMatchObject({ status: 'COMMITTED', amountCharged: '1.000000' });
    // The late commit of the first: nothing left to take, nothing taken.
    expect(await close(first.reservationId!, '10', 'COMMITTED', clock.now())).toMatchObject({ resultCode: 'SUCCESS', status: 'EXPIRED', amountCharged: '0.000000' });
    expect(await balanceOf(svc, walletId)).toBe('0');
  });

  it('release then commit charges nothing; commit then release keeps the commit; a commit of more units than granted charges the grant at most', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '5.00' });
    const a = await reserveAt(request(billingAccountId), T0);
    expect(await close(a.reservationId!, '0', 'RELEASED', T0)).toMatchObject({ status: 'RELEASED' });
    expect(await close(a.reservationId!, '10', 'COMMITTED', T0)).toMatchObject({ status: 'RELEASED', amountCharged: '0.000000' });
    expect(await balanceOf(svc, walletId)).toBe('5');
    const b = await reserveAt(request(billingAccountId), T0);
    expect(await close(b.reservationId!, '4', 'COMMITTED', T0)).toMatchObject({ status: 'COMMITTED', amountCharged: '0.400000' });
    expect(await close(b.reservationId!, '0', 'RELEASED', T0)).toMatchObject({ status: 'COMMITTED', usedUnits: '4', amountCharged: '0.400000' });
    expect(await balanceOf(svc, walletId)).toBe('4.6');
    // 10 granted, 1,000 reported: charged for the 10 held, no more money leaves the balance.
    const c = await reserveAt(request(billingAccountId), T0);
    expect(await close(c.reservationId!, '1000', 'COMMITTED', T0)).toMatchObject({ status: 'COMMITTED', usedUnits: '10', amountCharged: '1.000000' });
    expect(await balanceOf(svc, walletId)).toBe('3.6');
  });

  it('two reserves in concurrent transactions for the last money: one is granted it, the other gets the rest (nothing)', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00' });
    const replies = await Promise.all([reserveAt(request(billingAccountId), T0), reserveAt(request(billingAccountId), T0)]);
    expect(replies.map((r) => r.resultCode).sort()).toEqual(['QUOTA_LIMIT_REACHED', 'SUCCESS']);
    expect(await balanceOf(svc, walletId)).toBe('0');
    const granted = replies.find((r) => r.resultCode === 'SUCCESS')!;
    await close(granted.reservationId!, '0', 'RELEASED', T0);
    expect(await balanceOf(svc, walletId)).toBe('1');
  });

  it("allowanceIds draw only on the request's own account and line: another account's bucket and another line's bucket give nothing", async () => {
    const { billingAccountId: other } = await openPrepaid(svc);
    const otherBucket = await grant(other);
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '0.50' });
    const otherLine = await grant(billingAccountId, { lineId: 'lin_2' });
    const r = await reserveAt(request(billingAccountId, { allowanceIds: ['data'] }), T0);
    // 0.50 pays 5 MB at 0.10; no MB from either bucket.
    expect(r).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '5', unitsFromAllowances: '0', amount: '0.500000' } });
    expect([await remaining(otherBucket), await remaining(otherLine)]).toEqual(['100.000000', '100.000000']);
    await close(r.reservationId!, '5', 'COMMITTED', T0);
    expect(await balanceOf(svc, walletId)).toBe('0');
  });
});
