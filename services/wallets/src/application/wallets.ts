import { Decimal, DomainError, badInput, conflict, isCurrencyCode, newId, notFound } from '@ledgerline/contracts';
import type { PaymentMode } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { MONEY_ACCOUNT_KINDS, accountId, accountIdSql, ensureAccounts } from './ledger';
import { fmt } from '../domain/charging';
import { LARGEST_AMOUNT, requireLedgerSize, requireMinorUnits } from '../domain/entered-money';
import { isTimeZone } from '../domain/local-time';

export interface WalletRow {
  id: string;
  billing_account_id: string;
  currency: string;
  payment_mode: PaymentMode;
  credit_limit: string | null;
  overdraft_limit: string;
  low_balance_threshold: string | null;
  created_at: Date;
  /** OPEN, or CLOSED with its billing account (close-account-wallets.ts). */
  status: WalletStatus;
  /** The account's closedAt (subscribers' billingaccount.closed); null while OPEN. */
  closed_at: Date | null;
  /** closed_at + the late-usage grace: from then on the balance is final; null while OPEN. */
  final_at: Date | null;
  /** When wallet.settled carried the final balance; null until the jobs settle the wallet. */
  settled_at: Date | null;
  balance: string;
  unbilled: string;
  reserved: string;
}

export type WalletStatus = 'OPEN' | 'CLOSED';

export const WALLET_COLUMNS = `w.id, w.billing_account_id, w.currency, w.payment_mode, w.credit_limit, w.overdraft_limit, w.low_balance_threshold, w.created_at,
  w.status, w.closed_at, w.final_at, w.settled_at, c.balance, -u.balance as unbilled, r.balance as reserved`;
export const WALLET_JOINS = `join ledger_account c on c.id = w.id
  join ledger_account u on u.id = ${accountIdSql('w.billing_account_id', 'UNBILLED_RECEIVABLE', 'w.currency')}
  join ledger_account r on r.id = ${accountIdSql('w.billing_account_id', 'RESERVED', 'w.currency')}`;

/** Why a closed wallet refuses money in and out (CONFLICT; the NATS paths answer it as their refusal's reason). */
export const WALLET_CLOSED = 'WALLET_CLOSED';

/** The refusal's text for a wallet closed at `closedAt`. */
export function walletClosedMessage(billingAccountId: string, currency: string, closedAt: Date | string | null): string {
  const at = closedAt ? new Date(closedAt).toISOString() : 'an earlier date';
  return `The ${currency} wallet of billing account ${billingAccountId} was closed with its account at ${at}: it takes no top-up, recharge, voucher, reservation or charge of usage after that; its balance stays on the ledger for finance to pay out`;
}

/**
 * Why a closed wallet refuses late usage from before its close that arrives at or after its
 * finalAt (closedAt + WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS): its balance is final (settled for
 * finance to pay out). A DENIED ChargeResult's reason; GraphQL `applyCharge` answers it CONFLICT.
 */
export const WALLET_BALANCE_FINAL = 'WALLET_BALANCE_FINAL';

/** The refusal's text for late usage reaching a wallet whose balance became final at `finalAt`. */
export function walletFinalMessage(billingAccountId: string, currency: string, closedAt: Date | string | null, finalAt: Date | string | null): string {
  const closed = closedAt ? new Date(closedAt).toISOString() : 'an earlier date';
  const final = finalAt ? new Date(finalAt).toISOString() : 'an earlier date';
  return `The ${currency} wallet of billing account ${billingAccountId} was closed at ${closed} and its late-usage grace ended at ${final}: its balance is final (settled for payout), so usage from before the close that arrives now is not charged`;
}

/**
 * Why a pending bank transfer confirmed after its closed wallet was settled (wallet.settled carried
 * its final balance, the figure finance paid out) is refused (CONFLICT): crediting it now would put
 * money on a balance nobody pays out any more. Nothing moves; the recharge is REFUSED with this
 * reason in its `failure`, so finance refunds the transfer to the customer directly.
 */
export const WALLET_SETTLED = 'WALLET_SETTLED';

/** The refusal's text for money reaching a wallet settled at `settledAt`. */
export function walletSettledMessage(billingAccountId: string, currency: string, closedAt: Date | string | null, settledAt: Date | string | null): string {
  const closed = closedAt ? new Date(closedAt).toISOString() : 'an earlier date';
  const settled = settledAt ? new Date(settledAt).toISOString() : 'an earlier date';
  return `The ${currency} wallet of billing account ${billingAccountId} was closed at ${closed} and settled at ${settled} (its final balance is what finance pays out): it takes no more money; refund the transfer to the customer directly`;
}

/**
 * A wallet that may still take money in or out: an OPEN one. A CLOSED wallet (its billing account
 * closed) is refused CONFLICT WALLET_CLOSED on `field`, before anything moves.
 */
export function requireOpen(wallet: Pick<WalletRow, 'billing_account_id' | 'currency' | 'status' | 'closed_at'>, field = 'input.billingAccountId'): void {
  if (wallet.status !== 'CLOSED') return;
  throw conflict(WALLET_CLOSED, walletClosedMessage(wallet.billing_account_id, wallet.currency, wallet.closed_at), { field, billingAccountId: wallet.billing_account_id, closedAt: wallet.closed_at ? new Date(wallet.closed_at).toISOString() : null });
}

/** A positive decimal amount of money, checked field by field. */
export function positiveAmount(value: string, field = 'input.amount.amount'): Decimal {
  if (typeof value !== 'string' || !/^-?\d+(\.\d+)?$/.test(value)) throw badInput(field, `"${value}" is not a decimal amount`, 'AMOUNT_INVALID');
  const d = new Decimal(value);
  if (d.lessThanOrEqualTo(0)) throw badInput(field, `The amount must be greater than zero (got ${value})`, 'AMOUNT_NOT_POSITIVE');
  if (d.decimalPlaces() > 6) throw badInput(field, 'At most 6 decimal places', 'AMOUNT_INVALID');
  requireLedgerSize(d, field);
  return d;
}

/** A positive amount a person entered with its currency: a supported currency, and no finer than its minor unit. */
export function enteredAmount(m: { amount: string; currency: string } | undefined, field = 'input.amount'): Decimal {
  const amount = positiveAmount(m?.amount as string, `${field}.amount`);
  if (!m || !isCurrencyCode(m.currency)) throw badInput(`${field}.currency`, `"${m?.currency}" is not a supported currency`, 'CURRENCY_INVALID');
  requireMinorUnits(amount, m.currency, `${field}.amount`);
  return amount;
}

function optionalNonNegative(value: string | null | undefined, field: string): Decimal | null {
  if (value == null) return null;
  if (!/^\d+(\.\d{1,6})?$/.test(value)) throw badInput(field, `${field} must be a non-negative decimal (got "${value}")`, 'AMOUNT_INVALID');
  const d = new Decimal(value);
  requireLedgerSize(d, field);
  return d;
}

/**
 * A credit limit as subscribers sends it (billingaccount.created / .changed). Subscribers checks
 * what is entered, but its events may carry more places than the ledger's 6 (or, sent before that
 * check, more than the ledger holds): such a limit is taken rounded DOWN to 6 places and capped at
 * the largest amount the ledger holds. Both only make the limit stricter, never looser, and the
 * account gets its wallet: refusing the event left it without one (it was redelivered for ever).
 * Only what is not a non-negative decimal at all is refused.
 */
function creditLimitFromEvent(value: string | null | undefined): Decimal | null {
  if (value == null) return null;
  if (typeof value !== 'string' || !/^\d+(\.\d+)?$/.test(value)) throw badInput('creditLimit', `A credit limit must be a non-negative decimal (got "${value}")`, 'AMOUNT_INVALID');
  return Decimal.min(new Decimal(value).toDecimalPlaces(6, Decimal.ROUND_DOWN), LARGEST_AMOUNT);
}

export interface OpenWalletCommand {
  billingAccountId: string;
  currency: string;
  paymentMode: PaymentMode;
  creditLimit?: string | null;
  overdraftLimit?: string | null;
  lowBalanceThreshold?: string | null;
  /** The customer who owns the account (subscribers' event): kept for ownership checks. */
  customerId?: string | null;
  /**
   * The account's IANA time zone (subscribers' event), recorded with its owner: auto top-up limits
   * count its local days and months. Not a zone this runtime knows: not recorded (UTC).
   */
  timezone?: string | null;
  /**
   * The limits were entered by a person (staff tooling): no finer than the currency's minor unit.
   * Not for subscribers' events: their credit limit is taken as `creditLimitFromEvent` says (an
   * event is not refused for its scale).
   */
  limitsEntered?: boolean;
  now: Date;
}

/**
 * Opens the account's wallet in a currency with its ledger accounts; opening it again returns it
 * and changes nothing, except that a credit limit given for a wallet that has none is taken (the
 * wallet may have been opened first from a subscription event, which carries no limit).
 */
export async function openWallet(sql: Sql, c: OpenWalletCommand): Promise<WalletRow> {
  if (!c.billingAccountId) throw badInput('input.billingAccountId', 'billingAccountId is required');
  if (!isCurrencyCode(c.currency)) throw badInput('input.currency', `"${c.currency}" is not a supported ISO 4217 currency`, 'CURRENCY_INVALID');
  if (c.paymentMode !== 'PREPAID' && c.paymentMode !== 'POSTPAID') throw badInput('input.paymentMode', 'paymentMode must be PREPAID or POSTPAID', 'PAYMENT_MODE_INVALID');
  const limit = (value: string | null | undefined, field: string): Decimal | null => {
    const d = optionalNonNegative(value, field);
    if (d && c.limitsEntered) requireMinorUnits(d, c.currency, field);
    return d;
  };
  const creditLimit = c.limitsEntered ? limit(c.creditLimit, 'input.creditLimit') : creditLimitFromEvent(c.creditLimit);
  const overdraft = limit(c.overdraftLimit, 'input.overdraftLimit') ?? new Decimal(0);
  const low = limit(c.lowBalanceThreshold, 'input.lowBalanceThreshold');
  // A closed account takes no new wallet (its existing one is answered as it is, below).
  const closed = await sql.query<{ currency: string; closed_at: Date }>(`select currency, closed_at from wallet where billing_account_id = $1 and status = 'CLOSED' limit 1`, [c.billingAccountId]);
  if (closed[0] && closed[0].currency !== c.currency && !(await walletOf(sql, c.billingAccountId, c.currency))) {
    throw conflict(WALLET_CLOSED, `Billing account ${c.billingAccountId} was closed at ${new Date(closed[0].closed_at).toISOString()}: it takes no new wallet`, { field: 'input.billingAccountId', billingAccountId: c.billingAccountId });
  }
  const id = newId('wallet');
  const inserted = await sql.query<{ id: string }>(
    `insert into wallet (id, billing_account_id, currency, payment_mode, credit_limit, overdraft_limit, low_balance_threshold, created_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (billing_account_id, currency) do nothing returning id`,
    [id, c.billingAccountId, c.currency, c.paymentMode, creditLimit && fmt(creditLimit), fmt(overdraft), low && fmt(low), c.now],
  );
  if (inserted.length > 0) {
    await ensureAccounts(sql, c.billingAccountId, [{ id, kind: 'CASH_WALLET', unit: c.currency }, ...MONEY_ACCOUNT_KINDS.map((kind) => ({ id: accountId(c.billingAccountId, kind, c.currency), kind, unit: c.currency }))], c.now);
  } else if (creditLimit) {
    const taken = await sql.query<{ id: string }>(`update wallet set credit_limit = $3 where billing_account_id = $1 and currency = $2 and credit_limit is null returning id`, [c.billingAccountId, c.currency, fmt(creditLimit)]);
    if (taken[0]) await recordCreditLimitChange(sql, taken[0].id, null, creditLimit, c.now);
  }
  if (c.customerId) await recordAccountOwner(sql, c.billingAccountId, c.customerId, c.now, isTimeZone(c.timezone) ? c.timezone : null);
  return (await walletOf(sql, c.billingAccountId, c.currency))!;
}

export async function walletById(sql: Sql, id: string, lock = false): Promise<WalletRow | null> {
  // Lock in its own statement, then read: the balances are then those after any concurrent commit.
  if (lock) await sql.query(`select id from wallet where id = $1 for update`, [id]);
  const rows = await sql.query<WalletRow>(`select ${WALLET_COLUMNS} from wallet w ${WALLET_JOINS} where w.id = $1`, [id]);
  return rows[0] ?? null;
}

/**
 * The account's wallet in `currency`; `lock`: row-locked first, then read (as walletById). A wallet whose
 * opening committed between the lock statement (nothing to lock) and the read (READ COMMITTED: it sees it)
 * is locked then and read again under the lock: returned unlocked, its caller went on as if it held the
 * lock while another writer could decide on the same balance. One more round trip, only in that race.
 */
export async function walletOf(sql: Sql, billingAccountId: string, currency: string, lock = false): Promise<WalletRow | null> {
  const read = async () => (await sql.query<WalletRow>(`select ${WALLET_COLUMNS} from wallet w ${WALLET_JOINS} where w.billing_account_id = $1 and w.currency = $2`, [billingAccountId, currency]))[0] ?? null;
  if (!lock) return read();
  const locked = await sql.query<{ id: string }>(`select id from wallet where billing_account_id = $1 and currency = $2 for update`, [billingAccountId, currency]);
  const wallet = await read();
  if (wallet === null || locked.length > 0) return wallet;
  await sql.query(`select id from wallet where id = $1 for update`, [wallet.id]);
  return read();
}

/**
 * Every wallet of an account, locked in id order as charging locks them. Charges, reservations and
 * commits change a bucket only under its account's wallet lock: whoever holds these reads buckets
 * that cannot move under it (a renewal's rollover read a bucket a late charge then drew on, and
 * carried units that were already used).
 */
export async function lockAccountWallets(sql: Sql, billingAccountId: string): Promise<void> {
  await sql.query(`select id from wallet where billing_account_id = $1 order by id for update`, [billingAccountId]);
}

/** Locks the wallet the money moves in; unknown account or currency is a coded error. */
export async function requireWallet(sql: Sql, billingAccountId: string, currency: string, field = 'input.billingAccountId'): Promise<WalletRow> {
  const wallet = await walletOf(sql, billingAccountId, currency, true);
  if (wallet) return wallet;
  const any = await sql.query<{ currency: string }>(`select currency from wallet where billing_account_id = $1`, [billingAccountId]);
  if (any.length > 0) {
    throw new DomainError('WALLET_CURRENCY_MISMATCH', `Billing account ${billingAccountId} has no ${currency} wallet (it has ${any.map((r) => r.currency).join(', ')})`, { field: 'input.amount.currency' }, 'BAD_USER_INPUT');
  }
  throw notFound('Wallet', `of billing account ${billingAccountId}`, field);
}

/**
 * The limits wallets owns. A postpaid credit limit is not one of them: it belongs to the billing
 * account in subscribers (`updateBillingAccount`), which wallets follows (`setCreditLimit`), so
 * there is one writer and subscribers' view never disagrees with the one charging uses.
 */
export interface SetWalletLimitsCommand {
  walletId: string;
  overdraftLimit?: string | null;
  lowBalanceThreshold?: string | null;
}

export async function setWalletLimits(sql: Sql, c: SetWalletLimitsCommand): Promise<WalletRow> {
  const wallet = await walletById(sql, c.walletId, true);
  if (!wallet) throw notFound('Wallet', c.walletId, 'input.walletId');
  // Entered by staff: no finer than the wallet currency's minor unit.
  const entered = (value: string | null | undefined, field: string): Decimal | null => {
    const d = optionalNonNegative(value, field);
    if (d) requireMinorUnits(d, wallet.currency, field);
    return d;
  };
  const overdraft = c.overdraftLimit == null ? wallet.overdraft_limit : entered(c.overdraftLimit, 'input.overdraftLimit')!.toFixed(6);
  // An overdraft the balance already uses can be lowered to what is used, not below: charging
  // never takes the balance past the overdraft, and a lower one would leave it past it (the
  // ledger invariant "no prepaid wallet below zero beyond its overdraft" would no longer hold).
  const used = Decimal.max(new Decimal(wallet.balance).negated(), 0);
  if (c.overdraftLimit != null && new Decimal(overdraft).lessThan(used)) {
    throw badInput('input.overdraftLimit', `The balance (${new Decimal(wallet.balance).toFixed()} ${wallet.currency}) already uses ${used.toFixed()} of the overdraft: it can be lowered to ${used.toFixed()} now, and further once the balance is topped up`, 'OVERDRAFT_BELOW_USED');
  }
  const low = c.lowBalanceThreshold === undefined ? wallet.low_balance_threshold : entered(c.lowBalanceThreshold, 'input.lowBalanceThreshold')?.toFixed(6) ?? null;
  await sql.query(`update wallet set overdraft_limit = $2, low_balance_threshold = $3 where id = $1`, [wallet.id, overdraft, low]);
  return (await walletById(sql, wallet.id))!;
}

/**
 * The credit limit subscribers now gives a postpaid account (`billingaccount.changed`; null: none),
 * as `creditLimitFromEvent` takes it. Under the wallet's row lock, so a batch of charges decides
 * against the old limit or the new one, never half of each. A limit below what is already unbilled
 * refuses new charges; it takes nothing back. The change is recorded (`credit_limit_change`), so
 * the ledger invariants judge each charge by the limit in force when it was made.
 */
export async function setCreditLimit(sql: Sql, billingAccountId: string, currency: string, creditLimit: string | null, now?: Date): Promise<boolean> {
  const wallet = await walletOf(sql, billingAccountId, currency, true);
  if (!wallet || wallet.payment_mode !== 'POSTPAID') return false;
  const limit = creditLimitFromEvent(creditLimit);
  const before = wallet.credit_limit === null ? null : new Decimal(wallet.credit_limit);
  if (before === null ? limit === null : limit !== null && before.equals(limit)) return true;
  await sql.query(`update wallet set credit_limit = $2 where id = $1`, [wallet.id, limit ? limit.toFixed(6) : null]);
  await recordCreditLimitChange(sql, wallet.id, before, limit, now);
  return true;
}

/**
 * Records a wallet's credit limit change, with the last ledger entry written before it. The caller
 * holds the wallet's row lock, and every write to the account's UNBILLED_RECEIVABLE (charges,
 * reservations, closes) takes it: entries up to `from_entry` were decided under the previous limit,
 * later ones under this one (entry ids are taken in write order).
 */
async function recordCreditLimitChange(sql: Sql, walletId: string, before: Decimal | null, after: Decimal | null, now?: Date): Promise<void> {
  await sql.query(
    `insert into credit_limit_change (wallet_id, previous_limit, credit_limit, from_entry, changed_at)
     values ($1, $2, $3, (select coalesce(max(id), 0) from ledger_entry), coalesce($4::timestamptz, now()))`,
    [walletId, before && fmt(before), after && fmt(after), now ?? null],
  );
}

/**
 * Records (or corrects) which customer owns a billing account, and its time zone (null: keep the
 * one recorded, if any; an account never told one counts UTC days for its auto top-up limits).
 */
export async function recordAccountOwner(sql: Sql, billingAccountId: string, customerId: string, now: Date, timezone: string | null = null): Promise<void> {
  await sql.query(
    `insert into account_owner (billing_account_id, customer_id, updated_at, timezone) values ($1, $2, $3, $4)
     on conflict (billing_account_id) do update set customer_id = excluded.customer_id, updated_at = excluded.updated_at,
       timezone = coalesce(excluded.timezone, account_owner.timezone)`,
    [billingAccountId, customerId, now, timezone],
  );
}
