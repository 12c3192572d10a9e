// review18: retryOne (balance-events.ts) locks the wallet and reads its unspent money in ONE
// statement (`with l as (select … for update) select …, (select a.balance …)`). In READ COMMITTED
// the subqueries use the snapshot taken when the statement started, before it waited for the lock:
// a top-up that held the lock and committed meanwhile is not seen. The pass then judges the wallet
// still below its threshold and asks the card again although the balance was just topped up.
// (locks.ts and walletById lock in a separate statement for exactly this reason.)
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { retryAutoTopups } from '../src/application/balance-events';
import { topupBalance } from '../src/application/topup-balance';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

describe('review18: the auto top-up retry pass judges the balance after the wallet lock', () => {
  it('a top-up committing while the retry waits for the wallet lock is seen: no new card request', async () => {
    const now = new Date('2026-12-10T12:00:00Z');
    const hour = 3_600_000;
    const db = dbOf(svc);
    const { billingAccountId, walletId } = await openPrepaid(svc);
    await db.query(`insert into auto_topup_rule (wallet_id, enabled, threshold, topup_amount, payment_method_token, daily_limit, updated_at) values ($1, true, 10, 20, 'tok_visa', null, $2)`, [walletId, new Date(now.getTime() - 4 * hour)]);
    await db.query(
      `insert into topup_request (id, wallet_id, billing_account_id, amount, currency, payment_method_token, status, reason, requested_at) values ($1, $2, $3, 20, 'EUR', 'tok_visa', 'RECHARGE_DECLINED', null, $4)`,
      [uniq('atu_r18'), walletId, billingAccountId, new Date(now.getTime() - 3 * hour)],
    );

    let locked!: () => void;
    let release!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const released = new Promise<void>((r) => (release = r));
    // A customer's top-up of 50 holds the wallet lock while the jobs pass comes.
    const topup = db.tx(async (sql) => {
      await topupBalance(sql, { billingAccountId, amount: { amount: '50.00', currency: 'EUR' }, idempotencyKey: uniq('key'), reference: 'r18', now });
      locked();
      await released;
    });
    await isLocked;
    const retry = retryAutoTopups(db, now);
    await new Promise((r) => setTimeout(r, 500)); // the retry is waiting for the wallet lock
    release();
    await topup;
    await retry;

    const statuses = (await db.query<{ status: string }>(`select status from topup_request where wallet_id = $1 order by requested_at`, [walletId])).map((r) => r.status);
    const balance = (await db.query<{ b: string }>(`select balance::text as b from ledger_account where id = $1`, [walletId]))[0]!.b;
    expect({ balance, statuses }).toEqual({ balance: '50.000000', statuses: ['RECHARGE_DECLINED'] });
  });
});
