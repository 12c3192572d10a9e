import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SubscriptionData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { renewSubscription } from '../src/application/renew-allowances';
import type { PlanTerms } from '../src/adapters/catalog-client';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A postpaid plan (no fee taken by wallets): 1000 MB a period, everything unused rolls over. */
const TERMS: PlanTerms = {
  recurringFee: { amount: '15.00', period: 'DAYS30' },
  allowances: [{ id: 'data', name: '1 GB', unit: 'MB', quantity: '1000', validity: 'PERIOD', rollover: { percent: '100' } }],
};

describe('rollover at renewal and late usage of the ending period at the same moment', () => {
  it('a late CDR arriving while the renewal rolls the ending bucket over waits for it: units are never counted twice, the bucket never goes below zero', async () => {
    const { billingAccountId: acc } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
    const sub: SubscriptionData = {
      subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId: acc, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'P', planVersionId: 'pv_review',
      status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
    };
    const db = dbOf(svc);
    await db.tx((sql) => grantFromSubscription(sql, sub, TERMS, T0));
    const [ending] = await db.query<{ id: string }>(`select id from bucket where grant_key = $1`, [`${sub.subscriptionId}:data:${T0.toISOString()}`]);

    // Hold the renewal between its read of the ending bucket and its writes: an uncommitted row
    // with the rollover bucket's grant key makes its insert wait (it is rolled back afterwards).
    let release!: () => void;
    let inserted!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const blockerReady = new Promise<void>((r) => (inserted = r));
    const blocker = db.tx(async (sql) => {
      await sql.query(
        `insert into bucket (id, billing_account_id, line_id, allowance_id, unit, initial_quantity, priority, valid_from, valid_to, status, grant_key, created_at)
         values ($1, $2, null, 'data', 'MB', 1, 50, $3, $4, 'ACTIVE', $5, $3)`,
        [uniq('bkt'), acc, at(30), at(60), `${sub.subscriptionId}:data:rollover:${at(30).toISOString()}`],
      );
      inserted();
      await held;
      throw new Error('rolled back on purpose');
    }).catch(() => undefined);
    await blockerReady;
    const renewal = db.tx((sql) => renewSubscription(sql, sub.subscriptionId, TERMS, at(30, 1)));
    // Wait until the renewal has read the ending bucket and waits on the rollover bucket's insert.
    for (let i = 0; i < 100; i++) {
      const waiting = await db.query(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like 'insert into bucket%'`);
      if (waiting.length > 0) break;
      await sleep(50);
    }

    // Meanwhile a late CDR of the ending period (occurred before its end) asks for 300 MB of the
    // ending bucket. It waits: the renewal holds the account's wallets while it rolls the bucket over.
    const late = gql(svc, APPLY, { i: charge(acc, { paymentMode: 'POSTPAID', lineId: sub.lineId, units: '300', allowanceIds: ['data'], occurredAt: at(29, 1439).toISOString() }) });
    await sleep(300);
    release();
    await blocker;
    expect(await renewal).toBe('RENEWED');
    const lateResult = (await late).applyCharge.result;

    const units = async (id: string) => (await db.query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [id]))[0]!.balance;
    const [rolled] = await db.query<{ id: string; initial_quantity: string }>(`select id, initial_quantity::text from bucket where grant_key = $1`, [`${sub.subscriptionId}:data:rollover:${at(30).toISOString()}`]);
    // The 1000 MB left at the renewal rolled over; the late CDR came after it, found the ending
    // bucket empty and drew on the units carried over from its period (late-usage-rollover.test.ts).
    // Before the wallet lock, it drew 300 MB that had also rolled over: 1000 carried, the ending
    // bucket at -300 (units counted twice).
    expect({ rolledOver: rolled!.initial_quantity, endingBucket: await units(ending!.id), rolloverBucket: await units(rolled!.id) })
      .toEqual({ rolledOver: '1000.000000', endingBucket: '0.000000', rolloverBucket: '700.000000' });
    expect(lateResult.unitsFromAllowances).toBe('300');
  });
});
