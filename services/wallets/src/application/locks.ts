import type { PaymentMode } from '@ledgerline/contracts';
import { NOTHING_TO_READ, type Reading } from '../persistence/sql';
import { accountIdSql } from './ledger';

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
  /** Money open reservations hold of it (the account's RESERVED account in the currency): balance + held = unspent. */
  held: string;
  /** Has an enabled budget or auto top-up rule (read under the lock). */
  has_rules: boolean;
  /** The committed amount of the wallet's enabled budget (a charge's headroom includes the next replenishment); null: none. */
  budget_committed: string | null;
  /** When the wallet closed with its billing account; null: OPEN. */
  closed_at: Date | null;
  /** When a closed wallet's balance became final (closed_at + the late-usage grace); null: OPEN. */
  final_at: Date | null;
  /** When the jobs settled it (wallet.settled); null: not yet. */
  settled_at: Date | null;
}

export interface WalletPair {
  acc: string;
  cur: string;
}

/**
 * Locks the wallets of these (billing account, currency) pairs in id order (two batches never
 * deadlock) and reads them with their balances and whether they have balance rules: two
 * statements whatever the number of wallets, to send in one round trip with the batch's other
 * reads (`readTogether`). The locking statement answers the ids; the wallets and their figures
 * are read by the next statement, whose snapshot is taken once the locks are ours, so it sees
 * every commit of whoever held them before us (and nobody changes a locked wallet meanwhile). A
 * wallet committed between the two statements is left out: it is not locked.
 */
export function walletLock(pairs: readonly WalletPair[]): Reading<LockedWalletRow[]> {
  if (pairs.length === 0) return NOTHING_TO_READ;
  // Joins on the unnested pairs, not `id = any(...)`: with thousands of ids the planner would scan the whole table.
  return lockAndRead(
    `(billing_account_id, currency) in (select * from unnest($1::text[], $2::text[]))`,
    `select w.* from unnest($1::text[], $2::text[]) as t(acc, cur) join wallet w on w.billing_account_id = t.acc and w.currency = t.cur`,
    [pairs.map((p) => p.acc), pairs.map((p) => p.cur)],
  );
}

/**
 * The same for the wallets these reservations hold money of (a wallet's account and currency
 * never change): no round trip to find them first.
 */
export function walletLockOfReservations(reservationIds: readonly string[]): Reading<LockedWalletRow[]> {
  if (reservationIds.length === 0) return NOTHING_TO_READ;
  const ofReservations = `id in (select r.wallet_id from reservation r where r.id = any($1::text[]))`;
  return lockAndRead(ofReservations, `select w.* from wallet w where w.${ofReservations}`, [reservationIds]);
}

/** The lock of the wallets `where` selects and the read of the same wallets (`wallets`), both with `params`. */
function lockAndRead(where: string, wallets: string, params: unknown[]): Reading<LockedWalletRow[]> {
  return {
    statements: [
      // The locks, answering the ids only (the wallet columns would be parsed twice, a thousand per charge batch).
      { text: `select id from wallet where ${where} order by id for update`, params },
      {
        // One row per wallet, its figures read by key (subqueries run for the batch's wallets
        // only: a filter joined over wallets once made PostgreSQL test every wallet of the table).
        // The unbilled receivable is negative in the ledger (owed to us); negated by SQL, exactly.
        // The rule flags are the wallet row's (kept by triggers on the rule tables).
        text: `select w.id, w.billing_account_id, w.currency, w.payment_mode, w.credit_limit, w.overdraft_limit, w.low_balance_threshold,
                 w.budget_committed, w.has_balance_rules as has_rules, w.closed_at, w.final_at, w.settled_at,
                 coalesce((select a.balance from ledger_account a where a.id = w.id), 0) as balance,
                 coalesce((select -a.balance from ledger_account a where a.id = ${accountIdSql('w.billing_account_id', 'UNBILLED_RECEIVABLE', 'w.currency')}), 0) as unbilled,
                 coalesce((select a.balance from ledger_account a where a.id = ${accountIdSql('w.billing_account_id', 'RESERVED', 'w.currency')}), 0) as held
               from (${wallets}) w`,
        params,
      },
    ],
    parse([locked, read]) {
      // Only wallets we hold the lock of: one committed between the two statements is not ours (as if absent).
      const ours = new Set((locked as { id: string }[]).map((w) => w.id));
      return (read as LockedWalletRow[]).filter((w) => ours.has(w.id));
    },
  };
}
