// review18: the invariant checker compares the RESERVED account with the open reservations only in
// a wallet currency (money held). Allowance units held (RESERVED:<unit>, from reservations'
// bucket_parts) are never compared with the open reservations: units stranded in RESERVED (a close
// that forgot to give them back, or a reservation closed twice) pass the checker unnoticed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { T0, dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { grantBucket } from '../src/application/buckets';
import { closeMany, reserve } from '../src/application/reservations';
import { checkLedgerInvariants } from '../src/persistence/invariants';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

describe('review18: invariants cover allowance units held by reservations', () => {
  it('units left in RESERVED:MB without an open reservation are reported', async () => {
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '10.00' });
    const db = dbOf(svc);
    await db.tx((sql) => grantBucket(sql, { billingAccountId: acc, lineId: null, allowanceId: 'data', unit: 'MB', quantity: '100', validFrom: T0, validTo: new Date(T0.getTime() + 86_400_000), grantKey: uniq('grant'), now: T0 }));
    const held = await db.tx((sql) => reserve(sql, {
      requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId: acc, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '40', pricePerUnit: '0.01', allowanceIds: ['data'], validitySeconds: 600,
    } as any, T0));
    expect(held).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { unitsFromAllowances: '40', amount: '0.000000' } });
    // Simulate a close that marked the reservation closed without giving the 40 MB back.
    await db.query(`update reservation set status = 'RELEASED' where id = $1`, [held.reservationId]);
    let problems: string[];
    try {
      problems = await checkLedgerInvariants(svc.runtime.orm.em.fork());
    } finally {
      // Put it back and close it properly, so the other checks after the test hold.
      await db.query(`update reservation set status = 'RESERVED' where id = $1`, [held.reservationId]);
      await db.tx((sql) => closeMany(sql, [{ reservationId: held.reservationId!, usedUnits: '0', closing: 'RELEASED' }], T0));
    }
    expect(problems, 'checker reports 40 MB held in RESERVED:MB with no open reservation').not.toEqual([]);
  });
});
