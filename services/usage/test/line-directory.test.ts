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
});
