// Review 9, the auto top-up retry's follow-ups:
// - RECHARGE_FAILED was asked again like a decline, but it also covers a workflow terminated,
//   cancelled or timed out, which may have ended after the card was captured: asking again could
//   take the money twice. Only a failure that took no money (capture failed, authorization voided:
//   PAYMENT_CAPTURE_FAILED) is retried; the others are left to an operator.
// - The jobs pass judges a bounded number of candidates and the next pass resumes after them.
// - A start failure in syncRecharges threw out of runWalletJobs and skipped the retry for the pass.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Logger, ManualClock, TestService } from '@ledgerline/platform';
import { dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { runWalletJobs } from '../src/jobs/jobs';
import { retryAutoTopups } from '../src/application/balance-events';
import type { RechargeStarter } from '../src/adapters/recharge-starter';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const hour = 3_600_000;

/** A used-up wallet with a rule whose last request's card recharge ended `status` (`failure`) `ago` ms before `now`. */
async function walletWhoseRechargeEnded(now: Date, status: 'DECLINED' | 'FAILED', failure: string, ago = 3 * hour) {
  const { billingAccountId, walletId } = await openPrepaid(svc);
  // The rule as stored before that request was made (set now through setAutoTopup, on a used-up
  // wallet with no request yet, it would ask at once: auto-topup-rule-set-below-threshold.test.ts).
  await dbOf(svc).query(
    `insert into auto_topup_rule (wallet_id, enabled, threshold, topup_amount, payment_method_token, updated_at) values ($1, true, 10, 20, 'tok_visa', $2)`,
    [walletId, new Date(now.getTime() - ago - hour)],
  );
  const ended = new Date(now.getTime() - ago);
  const rechargeId = uniq('rch');
  const db = dbOf(svc);
  await db.query(
    `insert into recharge (id, idempotency_key, request_hash, billing_account_id, wallet_id, amount, currency, channel, method, payment_method_token, status, workflow_id, failure, created_at, updated_at)
     values ($1, $7, 'h', $2, $3, 20, 'EUR', 'AUTO_TOPUP', 'CARD', 'tok_visa', $4, $8, $5, $6, $6)`,
    [rechargeId, billingAccountId, walletId, status, failure, ended, `key-${rechargeId}`, `recharge-${rechargeId}`],
  );
  await db.query(
    `insert into topup_request (id, wallet_id, billing_account_id, amount, currency, payment_method_token, status, requested_at, recharge_id) values ($1, $2, $3, 20, 'EUR', 'tok_visa', $4, $5, $6)`,
    [uniq('atu'), walletId, billingAccountId, `RECHARGE_${status}`, ended, rechargeId],
  );
  return { billingAccountId, walletId };
}

const statuses = async (walletId: string) =>
  (await dbOf(svc).query<{ status: string }>(`select status from topup_request where wallet_id = $1 order by requested_at, id`, [walletId])).map((r) => r.status);

describe('auto top-up retry after a failed recharge', () => {
  it('asks again after a capture that failed with its authorization voided; never after a workflow that may have captured', async () => {
    clock.set('2026-12-11T12:00:00Z');
    const now = clock.now();
    const voided = await walletWhoseRechargeEnded(now, 'FAILED', 'PAYMENT_CAPTURE_FAILED');
    const terminated = await walletWhoseRechargeEnded(now, 'FAILED', 'TERMINATED');
    const timedOut = await walletWhoseRechargeEnded(now, 'FAILED', 'WORKFLOW_TIMED_OUT');
    await runWalletJobs(dbOf(svc), now);
    await runWalletJobs(dbOf(svc), new Date(now.getTime() + 2 * hour));
    expect(await statuses(voided.walletId)).toEqual(['RECHARGE_FAILED', 'REQUESTED']);
    expect(await statuses(terminated.walletId)).toEqual(['RECHARGE_FAILED']);
    expect(await statuses(timedOut.walletId)).toEqual(['RECHARGE_FAILED']);
  });
});

describe('the jobs pass is bounded and resumes', () => {
  it('judges at most maxPerPass candidates; the next pass goes on after them, then starts over', async () => {
    clock.set('2026-12-12T12:00:00Z');
    const now = clock.now();
    const db = dbOf(svc);
    // Nothing left over from the test before: every earlier candidate asked or never due.
    await retryAutoTopups(db, now);
    const wallets: { walletId: string }[] = [];
    for (let i = 0; i < 3; i++) wallets.push(await walletWhoseRechargeEnded(now, 'DECLINED', 'PAYMENT_DECLINED'));
    const asked = async () => (await Promise.all(wallets.map((w) => statuses(w.walletId)))).filter((s) => s.includes('REQUESTED')).length;
    expect(await retryAutoTopups(db, now, undefined, { pageSize: 1, maxPerPass: 2 })).toBe(2);
    expect(await asked()).toBe(2);
    expect(await retryAutoTopups(db, now, undefined, { pageSize: 1, maxPerPass: 2 })).toBe(1);
    expect(await asked()).toBe(3);
  });
});

describe('one failing step of the jobs pass', () => {
  it('a recharge start failing in syncRecharges is logged; the auto top-up retry still runs in that pass', async () => {
    clock.set('2026-12-13T12:00:00Z');
    const now = clock.now();
    const db = dbOf(svc);
    const dry = await walletWhoseRechargeEnded(now, 'DECLINED', 'PAYMENT_DECLINED');
    // A card recharge stuck in STARTING for a minute: the pass starts it again, and Temporal is away.
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const stuck = uniq('rch');
    await db.query(
      `insert into recharge (id, idempotency_key, request_hash, billing_account_id, wallet_id, amount, currency, channel, method, payment_method_token, status, created_at)
       values ($1, $5, 'h', $2, $3, 20, 'EUR', 'WEB', 'CARD', 'tok_visa', 'STARTING', $4)`,
      [stuck, billingAccountId, walletId, new Date(now.getTime() - 5 * 60_000), `key-${stuck}`],
    );
    const away: RechargeStarter = {
      start: async () => {
        throw new Error('14 UNAVAILABLE: connection refused');
      },
      outcome: async () => null,
      close: async () => undefined,
    };
    const warned: unknown[] = [];
    const logger = { warn: (...args: unknown[]) => warned.push(args), info: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;
    const result = await runWalletJobs(db, now, away, null, logger);
    expect(result.autoTopupsRetried).toBeGreaterThanOrEqual(1);
    expect(await statuses(dry.walletId)).toEqual(['RECHARGE_DECLINED', 'REQUESTED']);
    expect(warned).toHaveLength(1);
    expect(JSON.stringify(warned[0])).toContain('syncRecharges');
    await db.query(`update recharge set status = 'FAILED', failure = 'TEST_CLEANUP' where id = $1`, [stuck]);
  });
});
