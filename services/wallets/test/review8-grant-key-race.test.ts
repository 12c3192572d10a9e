// Review 8: grantBucket is idempotent by its grant key ("One bucket per grant key: a retry grants
// nothing twice"), but it looks the key up with no lock of any kind (no wallet lock, and not the
// ledger key lock `lockIdempotencyKey` that topupBalance / adjustBalance / closeTopupKey now take).
// A retry that races its first attempt (subscribers' add-on settlement calls grantBucket over
// GraphQL; a timed-out call is retried while the first is still running) finds the key unused
// too, and fails on bucket.grant_key's unique index: INTERNAL_SERVER_ERROR, a raw PostgreSQL
// error, instead of the replay (same bucket). The same key for two accounts fails the same way
// instead of IDEMPOTENCY_KEY_REUSED.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { T0, expectInvariants, inRounds, openPrepaid, outcomeOf, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => {
  await svc?.close();
});

const GRANT = `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`;
const DAY = 86_400_000;
type Res = { data?: { grantBucket?: { bucket?: { id: string } } }; errors?: { extensions?: { code?: string; reason?: string } }[] };

const input = (billingAccountId: string, grantKey: string) => ({
  billingAccountId, lineId: 'lin_r8', allowanceId: 'roam-pass-data', name: 'pass', unit: 'MB', quantity: '1024',
  validFrom: T0.toISOString(), validTo: new Date(T0.getTime() + 7 * DAY).toISOString(), grantKey,
});

describe('grantBucket under one grant key at the same time', () => {
  it('a retry racing its first attempt gets the same bucket (never INTERNAL_SERVER_ERROR)', async () => {
    const seen = await inRounds(6, async () => {
      const { billingAccountId } = await openPrepaid(svc);
      const key = uniq('addon');
      const rs = (await Promise.all([0, 1].map(() => svc.request(GRANT, { i: input(billingAccountId, key) })))) as Res[];
      if (rs.every((r) => !r.errors)) expect(rs[0].data!.grantBucket!.bucket!.id).toBe(rs[1].data!.grantBucket!.bucket!.id);
      return rs.map(outcomeOf);
    });
    expect(seen.flat().filter((o) => o !== 'OK'), JSON.stringify(seen)).toEqual([]);
    await expectInvariants(svc);
  }, 120_000);

  it('one key for two accounts at once: one bucket, the other CONFLICT IDEMPOTENCY_KEY_REUSED (never INTERNAL_SERVER_ERROR)', async () => {
    const seen = await inRounds(6, async () => {
      const a = await openPrepaid(svc);
      const b = await openPrepaid(svc);
      const key = uniq('addon');
      return ((await Promise.all([a, b].map((w) => svc.request(GRANT, { i: input(w.billingAccountId, key) })))) as Res[]).map(outcomeOf);
    });
    for (const round of seen) {
      expect(round.filter((c) => c === 'OK'), JSON.stringify(seen)).toHaveLength(1);
      expect(round.filter((c) => c !== 'OK').every((c) => c.startsWith('CONFLICT')), JSON.stringify(seen)).toBe(true);
    }
    await expectInvariants(svc);
  }, 120_000);
});
