import { Decimal, type WalletSettledData } from '@ledgerline/contracts';
import type { Db, Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { fmt } from '../domain/charging';
import { closeMany } from './reservations';
import { WALLET_COLUMNS, WALLET_JOINS, lockAccountWallets, type WalletRow } from './wallets';

/**
 * Settles the closed wallets whose balance became final (`final_at` = closedAt + the late-usage
 * grace, WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS, reached by `now`): one periodic-jobs step. Late
 * usage arriving from finalAt on is refused by charging itself (WALLET_BALANCE_FINAL), so what is
 * on the wallet then is final; this says so once per account with `billing.wallets.wallet.settled`
 * carrying each wallet's final balance, the figure finance pays out. Returns the wallets settled.
 * An account that fails is logged by the jobs and tried again at the next pass; the others go on.
 */
export async function settleClosedWallets(db: Db, now: Date, limit = 200): Promise<number> {
  const due = await db.query<{ billing_account_id: string }>(
    `select distinct billing_account_id from (select billing_account_id from wallet where status = 'CLOSED' and settled_at is null and final_at <= $1 order by final_at limit $2) d`,
    [now, limit],
  );
  let settled = 0;
  for (const { billing_account_id } of due) settled += await db.tx((sql) => settleAccountWallets(sql, billing_account_id, now));
  return settled;
}

/**
 * One account's closed wallets whose finalAt has come, under the account's wallet locks (id order,
 * as charging takes them): a charge batch that committed first is in the balance, one after sees
 * the wallet settled (and finalAt passed) and is refused. A reservation still open on them (made
 * before the close, not yet expired) is given back first, as its expiry would (EXPIRED: a commit
 * after it answers that and charges nothing), so the balance holds all the money left. Then
 * `settled_at` is set and the event written, in the same transaction: a second pass or a second
 * replica finds nothing to settle (and the event's id is the account's, so it is published once).
 */
export async function settleAccountWallets(sql: Sql, billingAccountId: string, now: Date): Promise<number> {
  await lockAccountWallets(sql, billingAccountId);
  const due = `w.billing_account_id = $1 and w.status = 'CLOSED' and w.settled_at is null and w.final_at <= $2`;
  const open = await sql.query<{ id: string }>(`select r.id from reservation r join wallet w on w.id = r.wallet_id where ${due} and r.status = 'RESERVED' order by r.id`, [billingAccountId, now]);
  if (open.length > 0) await closeMany(sql, open.map((r) => ({ reservationId: r.id, usedUnits: '0', closing: 'EXPIRED' as const })), now);
  const wallets = await sql.query<WalletRow>(`select ${WALLET_COLUMNS} from wallet w ${WALLET_JOINS} where ${due} order by w.currency`, [billingAccountId, now]);
  if (wallets.length === 0) return 0;
  await sql.query(`update wallet set settled_at = $2 where id = any($1::text[])`, [wallets.map((w) => w.id), now]);
  const first = wallets[0]!;
  const data: WalletSettledData = {
    billingAccountId,
    closedAt: new Date(first.closed_at!).toISOString(),
    finalAt: new Date(first.final_at!).toISOString(),
    settledAt: now.toISOString(),
    wallets: wallets.map((w) => ({ walletId: w.id, currency: w.currency, paymentMode: w.payment_mode, balance: { amount: fmt(new Decimal(w.balance)), currency: w.currency } })),
  };
  // Once per account (the key), as wallet.closed: an account closes once and its wallets settle once.
  await insertOutbox(sql, [eventRow('walletSettled', billingAccountId, [billingAccountId, 'settled'], now, data)]);
  return wallets.length;
}
