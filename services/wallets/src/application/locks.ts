import type { PaymentMode } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
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

/**
 * Locks wallets in id order (two batches never deadlock) and reads their balances and whether
 * they have balance rules, in two statements whatever the number of wallets. The wallet columns come from the locking statement
 * (a locked row is re-read at its newest version); the balances are read after the lock, so they
 * include any commit that held it before us. Ledger account ids are computed, not joined.
 */
export async function lockWallets(sql: Sql, where: { pairs: { acc: string; cur: string }[] } | { ids: string[] }): Promise<LockedWalletRow[]> {
  const cols = `id, billing_account_id, currency, payment_mode, credit_limit, overdraft_limit, low_balance_threshold`;
  const wallets =
    'pairs' in where
      ? await sql.query<Omit<LockedWalletRow, 'balance' | 'unbilled' | 'has_rules'>>(
          `select ${cols} from wallet where (billing_account_id, currency) in (select * from unnest($1::text[], $2::text[])) order by id for update`,
          [where.pairs.map((p) => p.acc), where.pairs.map((p) => p.cur)],
        )
      : await sql.query<Omit<LockedWalletRow, 'balance' | 'unbilled' | 'has_rules'>>(`select ${cols} from wallet where id = any($1::text[]) order by id for update`, [where.ids]);
  if (wallets.length === 0) return [];
  const unbilledId = (w: { billing_account_id: string; currency: string }) => accountId(w.billing_account_id, 'UNBILLED_RECEIVABLE', w.currency);
  // The unbilled receivable is negative in the ledger (owed to us); negated by SQL, exactly.
  // The same round trip tells which wallets have a rule a falling balance can trigger (an enabled
  // budget or auto top-up; both are only changed under the wallet lock), so that most movements
  // need not look for them afterwards.
  const balances = new Map<string, string>();
  const withRules = new Set<string>();
  for (const r of await sql.query<{ id: string; balance: string | null }>(
    // Joins on the unnested ids, not `id = any(...)`: with thousands of ids the planner would scan the whole table.
    `select a.id, case when a.kind = 'UNBILLED_RECEIVABLE' then -a.balance else a.balance end as balance from unnest($1::text[]) as t(id) join ledger_account a on a.id = t.id
     union all select b.wallet_id, null from unnest($2::text[]) as t(id) join budget b on b.wallet_id = t.id where b.enabled
     union all select r.wallet_id, null from unnest($2::text[]) as t(id) join auto_topup_rule r on r.wallet_id = t.id where r.enabled`,
    [[...wallets.map((w) => w.id), ...wallets.map(unbilledId)], wallets.map((w) => w.id)],
  )) {
    if (r.balance === null) withRules.add(r.id);
    else balances.set(r.id, r.balance);
  }
  return wallets.map((w) => ({ ...w, balance: balances.get(w.id) ?? '0', unbilled: balances.get(unbilledId(w)) ?? '0', has_rules: withRules.has(w.id) }));
}
