import { Decimal, badInput, notFound, type BillingAccountClosedData, type WalletClosedData } from '@ledgerline/contracts';
import { ConfigError } from '@ledgerline/platform';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { fmt } from '../domain/charging';
import { WALLET_COLUMNS, WALLET_JOINS, lockAccountWallets, type WalletRow } from './wallets';

/**
 * A closed billing account's wallets close with it (subscribers' `billingaccount.closed`, sent once
 * every line is terminated). Each OPEN wallet of the account becomes CLOSED with the account's
 * `closedAt` and reason; from then on it takes no top-up, recharge, voucher, reservation or charge
 * of usage that occurred at or after `closedAt` (`requireOpen`, and charging's own check). Usage
 * from before `closedAt` that arrives late is still charged, as an ended bucket still serves its
 * period's late usage; reservations made before the close may still be committed or released.
 *
 * Late usage has a time limit: the wallet's balance becomes final at `finalAt` = closedAt +
 * `graceHours` (WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS, 72 by default; fixed on the wallet when it
 * closes and said in wallet.closed). Usage arriving from then on is DENIED WALLET_BALANCE_FINAL
 * (apply-charges.ts), and the periodic jobs emit `billing.wallets.wallet.settled` with the final
 * balance (settle-closed-wallets.ts): the figure finance pays out. A committed-spend budget stops
 * with the account (disabled here): a late charge no longer replenishes it, i.e. invoices the closed
 * account, and no charge draws on a replenishment that will not come.
 *
 * Nothing is paid out here. The balance stays on the ledger (shown on the wallet) and
 * `billing.wallets.wallet.closed` tells finance what is left per currency (and what open
 * reservations still hold), once per account; once the wallet is settled, finance records the money
 * it sends back with payOutWalletBalance (pay-out-wallet.ts).
 *
 * Under the account's wallet locks (id order, as charging takes them): a charge batch committing
 * meanwhile is in the balance the event carries, or comes after and sees the wallet CLOSED. An
 * event redelivered finds no OPEN wallet: nothing changes, nothing is emitted. Refused (a coded
 * error: the consumer counts and acknowledges it) when the event names no account or no valid
 * closedAt, or an account with no wallet here (WALLET_NOT_FOUND).
 */
export async function closeAccountWallets(sql: Sql, d: BillingAccountClosedData, now: Date, graceHours = DEFAULT_CLOSED_LATE_USAGE_GRACE_HOURS): Promise<WalletRow[]> {
  const billingAccountId = d?.billingAccountId;
  if (typeof billingAccountId !== 'string' || billingAccountId === '' || billingAccountId.length > 40) throw badInput('billingAccountId', 'billingaccount.closed names no billing account', 'BILLING_ACCOUNT_ID_INVALID');
  const closedAt = typeof d.closedAt === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(d.closedAt) ? new Date(d.closedAt) : null;
  if (!closedAt || Number.isNaN(closedAt.getTime())) throw badInput('closedAt', `closedAt must be an ISO date-time (got ${JSON.stringify(d.closedAt)?.slice(0, 40)})`, 'CLOSED_AT_INVALID');
  if (d.reason != null && typeof d.reason !== 'string') throw badInput('reason', 'reason must be a text', 'REASON_INVALID');
  const reason = d.reason == null ? null : d.reason.slice(0, 300);
  await lockAccountWallets(sql, billingAccountId);
  const wallets = await sql.query<WalletRow>(`select ${WALLET_COLUMNS} from wallet w ${WALLET_JOINS} where w.billing_account_id = $1 order by w.currency`, [billingAccountId]);
  if (wallets.length === 0) throw notFound('Wallet', `of billing account ${billingAccountId}`, 'billingAccountId');
  const open = wallets.filter((w) => w.status !== 'CLOSED');
  if (open.length === 0) return [];
  const ids = open.map((w) => w.id);
  const finalAt = new Date(closedAt.getTime() + graceHours * HOUR_MS);
  await sql.query(`update wallet set status = 'CLOSED', closed_at = $2, closed_reason = $3, final_at = $4 where id = any($1::text[]) and status = 'OPEN'`, [ids, closedAt, reason, finalAt]);
  // No card is charged for a closed wallet: its auto top-up rules stop (a recharge would be refused anyway).
  await sql.query(`update auto_topup_rule set enabled = false, updated_at = $2 where wallet_id = any($1::text[]) and enabled`, [ids, now]);
  // Nor is a closed account invoiced for replenishments: its committed-spend budget stops (the
  // trigger clears the wallet's budget flag, so no charge draws on a next replenishment either).
  await sql.query(`update budget set enabled = false, updated_by = 'system:account-closed', updated_at = $2 where wallet_id = any($1::text[]) and enabled`, [ids, now]);
  const data: WalletClosedData = {
    billingAccountId,
    customerId: typeof d.customerId === 'string' ? d.customerId : null,
    closedAt: closedAt.toISOString(),
    finalAt: finalAt.toISOString(),
    reason,
    wallets: open.map((w) => ({
      walletId: w.id,
      currency: w.currency,
      paymentMode: w.payment_mode,
      balance: { amount: fmt(new Decimal(w.balance)), currency: w.currency },
      reserved: { amount: fmt(new Decimal(w.reserved)), currency: w.currency },
    })),
  };
  // Once per account (the key): a wallet closes once and never reopens.
  await insertOutbox(sql, [eventRow('walletClosed', billingAccountId, [billingAccountId, 'closed'], now, data)]);
  return open.map((w) => ({ ...w, status: 'CLOSED', closed_at: closedAt, final_at: finalAt }));
}

const HOUR_MS = 3_600_000;

/** How long after closedAt late usage from before it is still charged, unless WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS says otherwise. */
export const DEFAULT_CLOSED_LATE_USAGE_GRACE_HOURS = 72;

/**
 * WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS: a whole number of hours, 0 to 8760 (a year); unset or
 * empty: 72. Anything else stops start-up naming the setting.
 */
export function closedLateUsageGraceHoursFromEnv(env: NodeJS.ProcessEnv): number {
  const setting = 'WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS';
  const raw = env[setting]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_CLOSED_LATE_USAGE_GRACE_HOURS;
  const hours = Number(raw);
  if (!/^\d+$/.test(raw) || hours > 8760) throw new ConfigError(setting, `"${env[setting]}" is not a whole number of hours from 0 to 8760 (how long after a billing account's closedAt late usage from before it is still charged; default ${DEFAULT_CLOSED_LATE_USAGE_GRACE_HOURS})`);
  return hours;
}
