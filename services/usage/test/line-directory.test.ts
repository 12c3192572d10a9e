/**
 * The line directory's cache never keeps what a read found in the database before an event was
 * applied: a read that straddles the event (the rating path or a GraphQL query loading the line
 * while the subscribers consumer applies its change) reads the line again. It used to cache the
 * old subscription until the line's next event (seen as a flaky late-renewal test).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceForTest, type TestService } from '@ledgerline/platform';
import type { SubscriptionData } from '@ledgerline/contracts';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { LineDirectory } from '../src/application/line-directory';
import { filePlanSource } from './support';
import { poolPeriodAt } from '../src/domain/period';

let svc: TestService;
const run = Math.random().toString(36).slice(2, 8);

beforeAll(async () => {
  svc = await startServiceForTest(createUsageService({ planSource: filePlanSource(), consumers: [] }));
});

afterAll(async () => {
  await svc?.close();
});

describe('the line directory', () => {
  it('reads a line again when an event changed it while it was being read', async () => {
    const pool = usageRuntimeOf(svc.runtime).sql;
    const lineId = `lin_dir${run}`;
    const at = new Date('2026-03-01T08:00:00Z');
    const sub: SubscriptionData = { subscriptionId: `sub_${lineId}`, lineId, msisdn: null, billingAccountId: `acc_dir${run}`, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'PREPAID_BUNDLE_30D', planVersionId: 'plv_prepaid', status: 'PENDING', startsAt: at.toISOString(), endsAt: null, addOns: [] } as unknown as SubscriptionData;
    const writer = new LineDirectory(pool);
    await writer.applyLineState({ lineId, msisdn: null, billingAccountId: sub.billingAccountId, status: 'PENDING' } as never, at);
    await writer.applySubscription(sub, at);

    // A directory whose read of the subscription versions returns only once the test lets it:
    // the read has seen the PENDING version when the activation is applied.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let readsOfVersions = 0;
    let versionsRead!: () => void;
    const versionsSeen = new Promise<void>((r) => (versionsRead = r));
    const gated = new Proxy(pool, {
      get(target, prop, receiver) {
        if (prop !== 'query') return Reflect.get(target, prop, receiver);
        return async (text: string, params?: unknown[]) => {
          const result = await target.query(text, params);
          if (text.includes('from subscription_version where line_id') && readsOfVersions++ === 0) {
            versionsRead();
            await gate;
          }
          return result;
        };
      },
    }) as typeof pool;
    const directory = new LineDirectory(gated);
    const loading = directory.load(lineId);
    await versionsSeen;
    await directory.applySubscription({ ...sub, status: 'ACTIVE', startsAt: '2026-03-03T08:00:00.000Z' }, new Date('2026-03-03T08:00:00Z'));
    release();
    const line = await loading;
    expect(line?.versions.map((v) => [v.status, new Date(v.validFrom).toISOString()])).toEqual([['ACTIVE', '2026-03-03T08:00:00.000Z']]);
    expect(readsOfVersions).toBe(2);
    expect(directory.get(lineId, undefined)?.versions[0].status).toBe('ACTIVE');
  });
  it("drops a cached line when another line of its account changes (the account's line count is in each line's entry), and no other account's lines", async () => {
    const pool = usageRuntimeOf(svc.runtime).sql;
    const at = new Date('2026-03-01T08:00:00Z');
    const account = `acc_cnt${run}`;
    const other = `acc_cnt2${run}`;
    const directory = new LineDirectory(pool);
    await directory.applyLineState({ lineId: `lin_c1${run}`, msisdn: null, billingAccountId: account, status: 'ACTIVE' } as never, at);
    await directory.applyLineState({ lineId: `lin_c3${run}`, msisdn: null, billingAccountId: other, status: 'ACTIVE' } as never, at);
    expect((await directory.load(`lin_c1${run}`))?.lineCount).toBe(1);
    expect((await directory.load(`lin_c3${run}`))?.lineCount).toBe(1);
    // A second line joins the first's account: the first's cached entry (count 1) must go, the other account's stays.
    await directory.applyLineState({ lineId: `lin_c2${run}`, msisdn: null, billingAccountId: account, status: 'ACTIVE' } as never, new Date('2026-03-02T08:00:00Z'));
    expect(directory.get(`lin_c1${run}`, undefined)).toBeUndefined();
    expect(directory.get(`lin_c3${run}`, undefined)?.lineCount).toBe(1);
    expect((await directory.load(`lin_c1${run}`))?.lineCount).toBe(2);
  });

  it("cuts a pool member's lapse (a late renewal) out of the pool's run: the pool restarts where wallets reopened it, unless another member kept it going", async () => {
    const pool = usageRuntimeOf(svc.runtime).sql;
    const directory = new LineDirectory(pool);
    const member = async (account: string, lineId: string, startsAt: string) => {
      const at = new Date(startsAt);
      const sub = { subscriptionId: `sub_${lineId}`, lineId, msisdn: null, billingAccountId: account, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'FAMILY', planVersionId: 'plv_family', status: 'ACTIVE', startsAt, endsAt: null, addOns: [] } as unknown as SubscriptionData;
      await directory.applyLineState({ lineId, msisdn: null, billingAccountId: account, status: 'ACTIVE' } as never, at);
      await directory.applySubscription(sub, at);
    };
    const periodAt = async (account: string, at: string) => poolPeriodAt(await directory.poolMembers(account, 'plv_family'), 'MONTH', new Date(at))?.period;
    // One member since 1 January; its fee was not covered on 1 April, a top-up renewed it on 3 April at noon.
    const alone = `acc_lapse${run}`;
    await member(alone, `lin_lapse${run}`, '2026-01-01T00:00:00.000Z');
    expect(await periodAt(alone, '2026-04-05T00:00:00Z')).toBe('2026-04-01');
    // bundle.feedue: from 1 April it has no paid period, so wallets opened no pool.
    await directory.applyLapse(`sub_lin_lapse${run}`, `lin_lapse${run}`, new Date('2026-04-01T00:00:00Z'), null, alone);
    expect(await periodAt(alone, '2026-04-05T00:00:00Z')).toBeUndefined();
    // bundle.renewed (late, lapsedAt 1 April), twice as a redelivery would.
    for (let i = 0; i < 2; i++) await directory.applyPeriodAnchor(`sub_lin_lapse${run}`, `lin_lapse${run}`, new Date('2026-04-03T12:00:00Z'), new Date('2026-04-01T00:00:00Z'), alone);
    expect(await periodAt(alone, '2026-03-15T00:00:00Z')).toBe('2026-03-01');
    expect(await periodAt(alone, '2026-04-02T00:00:00Z')).toBeUndefined(); // no pool in wallets then
    expect(await periodAt(alone, '2026-04-05T00:00:00Z')).toBe('2026-04-03');
    expect(await periodAt(alone, '2026-05-05T00:00:00Z')).toBe('2026-05-03');
    // With a second member whose paid period covered 1 April, wallets renewed the pool then: its run goes on.
    const family = `acc_lapse2${run}`;
    await member(family, `lin_lapse2a${run}`, '2026-01-01T00:00:00.000Z');
    await member(family, `lin_lapse2b${run}`, '2026-02-10T00:00:00.000Z');
    await directory.applyPeriodAnchor(`sub_lin_lapse2a${run}`, `lin_lapse2a${run}`, new Date('2026-04-03T12:00:00Z'), new Date('2026-04-01T00:00:00Z'), family);
    expect(await periodAt(family, '2026-04-02T00:00:00Z')).toBe('2026-04-01');
    expect(await periodAt(family, '2026-04-05T00:00:00Z')).toBe('2026-04-01');
  });
});
