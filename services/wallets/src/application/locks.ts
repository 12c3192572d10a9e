import type { PaymentMode } from '@ledgerline/contracts';
import { NOTHING_TO_READ, type Reading } from '../persistence/sql';
import { accountId } from './ledger';

export interface LockedWalletRow {
  id: string;
  billing_account_id: string;
  currency: string;
  payment_mode: PaymentMode;
  credit_limit: string | null;
  overdraft_limit: string;
  low_balance_threshold: string | null;
  /** Cash balance (ledger account = wallet id). */
  balance: string;
  /** What a postpaid customer owes, unbilled (positive). */
  unbilled: string;
  /** Has an enabled budget or auto top-up rule (read under the lock). */
  has_rules: boolean;
}

export interface WalletPair {
  acc: string;
  cur: string;
}

/**
 * Locks the wallets of these (billing account, currency) pairs in id order (two batches never
 * deadlock) and reads their balances and whether they have balance rules: two statements whatever
 * the number of wallets, to send in one round trip with the batch's other reads (`readTogether`).
 * The wallet columns come from the locking statement (a locked row is re-read at its newest
 * version); the balances are read by the next statement, after the lock, so they include any
 * commit that held it before us. Ledger account ids are computed, not joined.
 */
export function walletLock(pairs: readonly WalletPair[]): Reading<LockedWalletRow[]> {
  if (pairs.length === 0) return NOTHING_TO_READ;
  const acc = pairs.map((p) => p.acc);
  const cur = pairs.map((p) => p.cur);
  const unbilled = pairs.map((p) => accountId(p.acc, 'UNBILLED_RECEIVABLE', p.cur));
  // Joins on the unnested pairs, not `id = any(...)`: with thousands of ids the planner would scan the whole table.
  const byPair = `from unnest($1::text[], $2::text[]) as t(acc, cur) join wallet w on w.billing_account_id = t.acc and w.currency = t.cur`;
  return {
    statements: [
      {
        text: `select id, billing_account_id, currency, payment_mode, credit_limit, overdraft_limit, low_balance_threshold
                 from wallet where (billing_account_id, currency) in (select * from unnest($1::text[], $2::text[])) order by id for update`,
        params: [acc, cur],
      },
      {
        // The unbilled receivable is negative in the ledger (owed to us); negated by SQL, exactly.
        // The same statement tells which wallets have a rule a falling balance can trigger (an
        // enabled budget or auto top-up; both are only changed under the wallet lock), so that
        // most movements need not look for them afterwards.
        text: `select a.id, a.balance ${byPair} join ledger_account a on a.id = w.id
               union all select a.id, -a.balance from unnest($3::text[]) as t(id) join ledger_account a on a.id = t.id
               union all select w.id, null ${byPair}
                 where exists (select 1 from budget b where b.wallet_id = w.id and b.enabled) or exists (select 1 from auto_topup_rule r where r.wallet_id = w.id and r.enabled)`,
        params: [acc, cur, unbilled],
      },
    ],
    parse([locked, read]) {
      const balances = new Map<string, string>();
      const withRules = new Set<string>();
      for (const r of read as { id: string; balance: string | null }[]) {
        if (r.balance === null) withRules.add(r.id);
        else balances.set(r.id, r.balance);
      }
      // The rows are ours: completed in place (a copy per wallet showed in profiles of 1000-wallet batches).
      const wallets = locked as LockedWalletRow[];
      for (const w of wallets) {
        w.balance = balances.get(w.id) ?? '0';
        w.unbilled = balances.get(accountId(w.billing_account_id, 'UNBILLED_RECEIVABLE', w.currency)) ?? '0';
        w.has_rules = withRules.has(w.id);
      }
      return wallets;
    },
  };
}
