// Bucket expiry against other writers of the same bucket (found in review, tenth session): the
// expiry locked the due buckets but read what they had left from their ledger accounts, which it
// did not lock. A charge that committed after the expiry statement's snapshot and before the
// statement reached the bucket's row left the expiry forfeiting the units the charge had used as
// well: the bucket ended below zero. And a renewal read the ending bucket without locking it (the
// expiry takes no wallet lock), so the expiry forfeited what the renewal was carrying over.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import type { SubscriptionData } from '@ledgerline/contracts';
import { APPLY, T0, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { LATE_USAGE_GRACE_MS, expireBuckets, grantBucket } from '../src/application/buckets';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { renewSubscription } from '../src/application/renew-allowances';
import type { PlanTerms } from '../src/adapters/catalog-client';
import type { Sql } from '../src/persistence/sql';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `sql`, with its first statement run as a cursor: DECLARE takes the statement's snapshot, FETCH
 * runs it and locks its rows. In between, `paused` is told and `resume` awaited. This is what one
 * statement does when its rows are locked a moment after its snapshot was taken (a large batch of
 * due buckets), made long enough for another transaction to commit in the window.
 */
function firstStatementPaused(sql: Sql, paused: () => void, resume: Promise<void>): Sql {
  let first = true;
  return {
    async query(text, params) {
      if (!first) return sql.query(text, params);
      first = false;
      await sql.query(`declare first_statement cursor for ${text}`, params);
      paused();
      await resume;
      const rows = await sql.query(`fetch all from first_statement`);
      await sql.query(`close first_statement`);
      return rows as never[];
    },
    queries: (statements) => sql.queries(statements),
    write: (text, params) => sql.write(text, params),
  };
}

describe('bucket expiry and a late charge at the same moment', () => {
  it('a charge that commits after the expiry statement started, before it locked the bucket: only what the charge left is forfeited, the bucket ends at zero', async () => {
    const { billingAccountId: acc } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
    const db = dbOf(svc);
    const bucket = await db.tx((sql) => grantBucket(sql, { billingAccountId: acc, lineId: null, allowanceId: 'data', unit: 'MB', quantity: '100', validFrom: T0, validTo: at(1), grantKey: uniq('grant'), now: T0 }));
    // Past the bucket's validity and the late-usage grace: the expiry job takes it.
    const now = new Date(at(1).getTime() + LATE_USAGE_GRACE_MS + 60_000);

    let paused!: () => void;
    let resume!: () => void;
    const snapshotTaken = new Promise<void>((r) => (paused = r));
    const resumed = new Promise<void>((r) => (resume = r));
    const expiry = db.tx((sql) => expireBuckets(firstStatementPaused(sql, paused, resumed), now));
    await snapshotTaken;
    // A CDR of the bucket's period, later still than the grace, is charged in the window: 30 MB from the bucket.
    const late = (await gql(svc, APPLY, { i: charge(acc, { paymentMode: 'POSTPAID', units: '30', allowanceIds: ['data'], occurredAt: at(0, 600).toISOString() }) })).applyCharge.result;
    resume();
    expect(await expiry).toMatchObject({ expired: 1 });

    const balance = async (id: string) => (await db.query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [id]))[0]!.balance;
    expect(late.unitsFromAllowances).toBe('30');
    // 100 granted, 30 used, 70 forfeited; before, the expiry forfeited the 100 it had read: bucket -30, 100 expired.
    expect({ bucket: await balance(bucket.id), expired: await balance(`${acc}:ALLOWANCE_EXPIRED:MB`) }).toEqual({ bucket: '0.000000', expired: '70.000000' });
  });
});

describe('bucket expiry and a renewal rolling the same bucket over', () => {
  it('a renewal two days late (the jobs were down) rolling over the bucket the expiry takes at the same moment: the units are carried or forfeited, never both', async () => {
    const terms: PlanTerms = {
      recurringFee: { amount: '15.00', period: 'DAYS30' },
      allowances: [{ id: 'data', name: '1 GB', unit: 'MB', quantity: '1000', validity: 'PERIOD', rollover: { percent: '100' } }],
    };
    const { billingAccountId: acc } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100.00' });
    const sub: SubscriptionData = {
      subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId: acc, paymentMode: 'POSTPAID', currency: 'EUR', planCode: 'P', planVersionId: 'pv_expiry',
      status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
    };
    const db = dbOf(svc);
    await db.tx((sql) => grantFromSubscription(sql, sub, terms, T0));
    const [ending] = await db.query<{ id: string }>(`select id from bucket where grant_key = $1`, [`${sub.subscriptionId}:data:${T0.toISOString()}`]);
    // Two days after the period's end: the renewal is due and the ending bucket is past its grace.
    const now = new Date(at(30).getTime() + LATE_USAGE_GRACE_MS + 60_000);

    // Hold the renewal after its read of the ending bucket (as renewal-rollover-race.test.ts does):
    // an uncommitted row with the rollover bucket's grant key makes its insert wait.
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
    const renewal = db.tx((sql) => renewSubscription(sql, sub.subscriptionId, terms, now));
    for (let i = 0; i < 100; i++) {
      if ((await db.query(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like 'insert into bucket%'`)).length > 0) break;
      await sleep(50);
    }
    // The expiry job of another replica, meanwhile. Before, it forfeited the 1000 MB the renewal was carrying over.
    const expiry = await db.tx((sql) => expireBuckets(sql, now));
    release();
    await blocker;
    expect(await renewal).toBe('RENEWED');

    const balance = async (id: string) => (await db.query<{ balance: string }>(`select balance::text from ledger_account where id = $1`, [id]))[0]!.balance;
    const [rolled] = await db.query<{ id: string }>(`select id from bucket where grant_key = $1`, [`${sub.subscriptionId}:data:rollover:${at(30).toISOString()}`]);
    expect({ expired: expiry.expired, ending: await balance(ending!.id), rollover: await balance(rolled!.id), forfeited: await balance(`${acc}:ALLOWANCE_EXPIRED:MB`) })
      .toEqual({ expired: 0, ending: '0.000000', rollover: '1000.000000', forfeited: '0.000000' });
  });
});
