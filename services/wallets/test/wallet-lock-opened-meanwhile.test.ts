// walletOf(lock = true) locks the account's wallet in one statement and reads it in the next (READ COMMITTED: the
// read sees what committed after the lock). A wallet whose opening committed between the two was not there to lock
// and was read all the same: the caller (a one-off charge, a top-up through requireWallet, a due charges' payment)
// went on as if it held the lock, so another writer of that wallet could decide on the same balance at once. Made
// deterministic here: the opening runs and commits on its own connection right after the lock statement. Before
// the fix the wallet came back unlocked (another connection's `for update nowait` got it). Now walletOf locks the
// wallet it found when its lock statement had found none, and reads it again under the lock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { T0, dbOf, startWallets, uniq } from './support';
import { openWallet, walletOf } from '../src/application/wallets';
import type { Sql } from '../src/persistence/sql';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());

/** `sql` that runs `between` right after walletOf's lock statement (before its read). */
const afterLock = (sql: Sql, between: () => Promise<void>): Sql =>
  Object.assign(Object.create(sql) as Sql, {
    query: async <R>(text: string, params?: unknown[]): Promise<R[]> => {
      const rows = await sql.query<R>(text, params);
      if (/^select id from wallet where billing_account_id = \$1 and currency = \$2 for update$/.test(text.trim())) await between();
      return rows;
    },
  });

/** Whether another connection can take the wallet's row lock now (false: someone holds it). */
const lockFree = async (walletId: string): Promise<boolean> => {
  try {
    await dbOf(svc).tx((sql) => sql.query(`select id from wallet where id = $1 for update nowait`, [walletId]));
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') return false;
    throw error;
  }
};

describe('walletOf(lock) and a wallet opened between its lock and its read', () => {
  it('returns the wallet locked', async () => {
    const billingAccountId = uniq('acc');
    const open = () => dbOf(svc).tx((sql) => openWallet(sql, { billingAccountId, currency: 'EUR', paymentMode: 'PREPAID', now: T0 })).then(() => undefined);
    const seen = await dbOf(svc).tx(async (sql) => {
      const wallet = await walletOf(afterLock(sql, open), billingAccountId, 'EUR', true);
      expect(wallet, 'the wallet committed meanwhile is read').not.toBeNull();
      return { walletId: wallet!.id, free: await lockFree(wallet!.id) };
    });
    expect(seen.free, 'the wallet walletOf returned is locked by its transaction').toBe(false);
    // Once that transaction is over, the lock is free again (the probe can take it).
    expect(await lockFree(seen.walletId)).toBe(true);
  });

  it('an account without a wallet: null, nothing locked', async () => {
    expect(await dbOf(svc).tx((sql) => walletOf(sql, uniq('acc'), 'EUR', true))).toBeNull();
  });
});
