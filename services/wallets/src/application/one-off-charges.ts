import { Decimal, deterministicId, formatAmount, isDecimalString, minorUnits, type OneOffChargeData } from '@ledgerline/contracts';
import type { Db, Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { covers } from '../domain/allowance-period';
import { fmt } from '../domain/charging';
import { accountId, chargeKey, findTransaction, newTxId, postTransactions, retryingChargeKeyTaken, type NewTransaction } from './ledger';
import { insertNotifications } from './buckets';
import { emitBalanceEvents } from './balance-events';
import { walletOf, type WalletRow } from './wallets';
import { feeDueCanRetry } from './period-fee';
import { budgetHeadroom } from './budget';
import { lateChargeRefusal, recordOwedCredit, recordRefusedCharge, type LateChargeRefusal } from './closed-wallet-moves';
import { CHARGE_CLOSED } from './apply-charges';

/**
 * One-off charges and credits of PREPAID accounts (subscribers' `oneoffcharge.created`: the
 * starter-pack fee at activation, an add-on bought from the balance); a postpaid account's are
 * invoicing's, on its next bill. A charge is taken from the balance (ledger: wallet → revenue)
 * under the key `CHARGE:<chargeId>`: an add-on already paid from the balance when it was ordered
 * used that key, so it is not taken twice, and a redelivered event takes nothing more. A charge
 * the balance (and its overdraft) does not cover waits as a due charge, the customer is told
 * once (`CHARGE_DUE` notification and `billing.wallets.charge.due`, an SMS from subscribers), and the next top-up pays it before anything else (see `settleDueCharges`). A credit goes
 * to the balance.
 */
export type OneOffOutcome = 'TAKEN' | 'CREDITED' | 'OWED' | 'DUE' | 'ALREADY' | 'NOT_PREPAID' | 'INVALID' | LateChargeRefusal;

/**
 * On a closed wallet (closed-wallet-moves.ts) a late one-off follows late usage until the settlement:
 * a credit goes into the balance the settlement carries; a charge from before closedAt arriving
 * before finalAt is taken, any other is refused (WALLET_CLOSED / WALLET_BALANCE_FINAL, its decision
 * kept under its key). After the settlement a charge is refused WALLET_SETTLED (taking it would make
 * a paid-out wallet owe) and a credit is recorded as owed to the customer for finance to pay out
 * (OWED: CREDIT_OWED + wallet.creditowed), never spent on due charges.
 */
export async function applyOneOffCharge(sql: Sql, d: OneOffChargeData, now: Date): Promise<OneOffOutcome> {
  if (!d || typeof d.chargeId !== 'string' || typeof d.billingAccountId !== 'string' || !isDecimalString(d.amount) || typeof d.currency !== 'string') return 'INVALID';
  const wallet = await walletOf(sql, d.billingAccountId, d.currency, true);
  if (!wallet || wallet.payment_mode !== 'PREPAID') return 'NOT_PREPAID';
  const amount = new Decimal(d.amount);
  if (amount.isZero()) return 'INVALID';
  if (await findTransaction(sql, chargeKey(d.chargeId))) return 'ALREADY';
  const balance = new Decimal(wallet.balance);
  if (amount.isNegative()) {
    if (wallet.settled_at !== null) {
      await recordOwedCredit(sql, wallet, { key: chargeKey(d.chargeId), source: 'ONE_OFF_CREDIT', sourceId: d.chargeId, reason: d.reason, reference: d.lineId, amount: amount.negated() }, now);
      return 'OWED';
    }
    await take(sql, wallet, [{ id: d.chargeId, lineId: d.lineId, reason: d.reason, amount }], balance, now);
    await settleAfterCredit(sql, wallet.billing_account_id, wallet.currency, now);
    return 'CREDITED';
  }
  const [open] = await sql.query<{ settled_at: Date | null }>(`select settled_at from due_charge where id = $1`, [d.chargeId]);
  if (open) return 'DUE';
  const refusal = lateChargeRefusal(wallet, d.chargedAt, now);
  if (refusal) {
    await recordRefusedCharge(sql, wallet, { chargeId: d.chargeId, lineId: d.lineId ?? null, reason: d.reason, description: d.description ?? null, amount, dueSince: null }, refusal, now);
    return refusal;
  }
  if (covers(balance.plus(await budgetHeadroom(sql, wallet.id)), new Decimal(wallet.overdraft_limit), amount)) {
    await take(sql, wallet, [{ id: d.chargeId, lineId: d.lineId, reason: d.reason, amount }], balance, now);
    return 'TAKEN';
  }
  await sql.query(
    `insert into due_charge (id, billing_account_id, line_id, reason, description, amount, currency, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (id) do nothing`,
    [d.chargeId, d.billingAccountId, d.lineId ?? null, d.reason, String(d.description ?? d.reason), fmt(amount), wallet.currency, now],
  );
  const digits = minorUnits(wallet.currency);
  await insertOutbox(sql, [eventRow('chargeDue', d.chargeId, [d.chargeId], now, {
    chargeId: d.chargeId, billingAccountId: d.billingAccountId, lineId: d.lineId ?? null, reason: d.reason, description: d.description ?? d.reason,
    amount: { amount: fmt(amount), currency: wallet.currency }, balance: { amount: fmt(balance), currency: wallet.currency },
  })]);
  await insertNotifications(sql, [{
    id: deterministicId('message', 'CHARGE_DUE', d.chargeId), billingAccountId: d.billingAccountId, walletId: wallet.id, bucketId: null, kind: 'CHARGE_DUE',
    // The balance floored (as the LOW_BALANCE text): 4.996 EUR rounded read "5.00 is due and your balance is 5.00".
    message: `${d.description ?? d.reason}: ${amount.toFixed(digits)} ${wallet.currency} is due and your balance is ${formatAmount(balance, wallet.currency, 'FLOOR')}; your next top-up pays it first.`,
  }], now);
  return 'DUE';
}

/**
 * A one-off as the subscribers consumer applies it: in its own transaction, run again when it lost its key
 * (`CHARGE:<chargeId>`, a usage charge's too) to a twin that committed it meanwhile, one the wallet lock did not
 * serialize with it (retryingChargeKeyTaken): the add-on's applyCharge refused USER_UNKNOWN before the wallet existed,
 * closeCharge on an account without a wallet, a copy that looked while the wallet was being opened. Run again it finds
 * the key taken and answers ALREADY, so the money moves once and the consumer's batch no longer fails (it came back
 * and was answered ALREADY then). `onKeyRetry`: the metric.
 */
export async function applyOneOffChargeOnce(db: Db, d: OneOffChargeData, now: Date, onKeyRetry?: () => void): Promise<OneOffOutcome> {
  return retryingChargeKeyTaken(() => db.tx((sql) => applyOneOffCharge(sql, d, now)), onKeyRetry);
}

/**
 * What every credit to a prepaid wallet does next, in its own transaction with the wallet locked
 * (top-ups, vouchers, recharges through creditWallet; adjustBalance; a one-off CREDIT): the
 * balance pays what is due first, due one-off charges oldest first, then the bundles waiting for
 * their fee are tried at the next job pass. A replayed credit returns before this: it pays nothing twice.
 */
export async function settleAfterCredit(sql: Sql, billingAccountId: string, currency: string, now: Date): Promise<void> {
  await settleDueCharges(sql, billingAccountId, currency, now);
  await feeDueCanRetry(sql, billingAccountId, now);
}

/**
 * Pays the account's due charges from its balance, oldest first, while the balance covers the
 * next one (a top-up calls this in its own transaction, after crediting). Returns how many it paid.
 * Due charges whose chargeId was decided meanwhile under its key are settled by that decision first
 * (closeDueChargesDecided), never taken again.
 */
export async function settleDueCharges(sql: Sql, billingAccountId: string, currency: string, now: Date): Promise<number> {
  await closeDueChargesDecided(sql, billingAccountId, currency, now);
  const plan = await dueChargesPayable(sql, billingAccountId, currency);
  if (!plan || plan.paying.length === 0) return 0;
  const { wallet, paying } = plan;
  const txIds = await take(sql, wallet, paying, new Decimal(wallet.balance), now);
  await sql.query(
    `update due_charge d set settled_at = $2, transaction_id = t.tx from unnest($1::text[], $3::text[]) as t(id, tx) where d.id = t.id`,
    [paying.map((c) => c.id), now, txIds],
  );
  return paying.length;
}

/**
 * Settles the account's open due charges in `currency` whose key (`CHARGE:<chargeId>`) already holds a
 * decision of the same account: a charge sent under the one-off's chargeId after it was left due (the
 * add-on's applyCharge, usage's charge) decided afresh and wrote the key. One chargeId is one charge and
 * one decision (ADR 18): the due charge is settled by that row, paid by it when it took the money and
 * closed by it when it refused it (as closeCharge closes one by its CHARGE_CLOSED row), and never taken
 * again (the key is taken: the credit paying it failed on the unique key, every top-up of the wallet
 * with it). The caller holds the wallet lock (charging writes a key under it). Returns how many.
 */
export async function closeDueChargesDecided(sql: Sql, billingAccountId: string, currency: string, now: Date): Promise<number> {
  const closed = await sql.query<DueChargeClosed & { void: boolean }>(
    `update due_charge d set settled_at = $3, transaction_id = t.id from ledger_transaction t
      where d.billing_account_id = $1 and d.currency = $2 and d.settled_at is null
        and t.idempotency_key = 'CHARGE:' || d.id and t.billing_account_id = left(d.billing_account_id, 40)
      returning ${DUE_CHARGE_CLOSED_COLUMNS},
        t.kind = '${CHARGE_CLOSED}' or (t.kind = 'CHARGE' and coalesce(t.outcome->>'outcome', 'APPLIED') not in ('APPLIED', 'PARTIAL')) as void`,
    [billingAccountId, currency, now],
  );
  // Refused (or closed) under its key: nothing was taken, the customer told it was due is told it no longer is.
  await noticeDueChargesCancelled(sql, closed.filter((c) => c.void), now);
  return closed.length;
}

/** A due charge just closed (RETURNING DUE_CHARGE_CLOSED_COLUMNS of an update of `due_charge d`): what its notice says. */
export interface DueChargeClosed {
  id: string;
  billing_account_id: string;
  description: string;
  amount: string;
  currency: string;
  wallet_id: string | null;
}

/**
 * SQL condition on a due charge `d`: its key (`CHARGE:<chargeId>`) holds no decision yet. A due charge whose chargeId a
 * charge decided meanwhile is settled by that decision (closeDueChargesDecided), never paid again under the key.
 */
export const DUE_CHARGE_KEY_FREE = `not exists (select 1 from ledger_transaction t where t.idempotency_key = 'CHARGE:' || d.id)`;

export const DUE_CHARGE_CLOSED_COLUMNS = `d.id, d.billing_account_id, d.description, d.amount::text as amount, d.currency,
  (select w.id from wallet w where w.billing_account_id = d.billing_account_id and w.currency = d.currency) as wallet_id`;

/**
 * Tells the customer that due charges they were told of (CHARGE_DUE: "your next top-up pays it first") were closed
 * without being taken: refused by a charge under their chargeId (closeDueChargesDecided) or closed by closeCharge.
 * A CHARGE_DUE_CANCELLED balance notification each, once (its id is the due charge's). Not one a charge paid.
 */
export async function noticeDueChargesCancelled(sql: Sql, closed: DueChargeClosed[], now: Date): Promise<void> {
  await insertNotifications(sql, closed.map((c) => ({
    id: deterministicId('message', 'CHARGE_DUE_CANCELLED', c.id), billingAccountId: c.billing_account_id, walletId: c.wallet_id, bucketId: null, kind: 'CHARGE_DUE_CANCELLED',
    message: `${c.description}: ${new Decimal(c.amount).toFixed(minorUnits(c.currency))} ${c.currency} is no longer due and was not taken from your balance.`,
  })), now);
}

/**
 * The due charges the balance pays now (oldest first, while it covers the next one), with the wallet
 * locked and read; null when the account has none due in `currency` or no such wallet. settleDueCharges
 * pays exactly these. Not one whose key is taken (closeDueChargesDecided settles those of the account;
 * a key another account's charge took is never paid under it: left open, it blocks none of the others).
 */
export async function dueChargesPayable(sql: Sql, billingAccountId: string, currency: string): Promise<{ wallet: WalletRow; paying: Charge[] } | null> {
  const due = await sql.query<{ id: string; line_id: string | null; reason: string; amount: string }>(
    `select d.id, d.line_id, d.reason, d.amount::text from due_charge d where d.billing_account_id = $1 and d.currency = $2 and d.settled_at is null
       and ${DUE_CHARGE_KEY_FREE}
     order by d.created_at, d.id`,
    [billingAccountId, currency],
  );
  if (due.length === 0) return null;
  const wallet = await walletOf(sql, billingAccountId, currency, true);
  if (!wallet) return null;
  const overdraft = new Decimal(wallet.overdraft_limit);
  const paying: Charge[] = [];
  let left = new Decimal(wallet.balance).plus(await budgetHeadroom(sql, wallet.id));
  for (const c of due) {
    const amount = new Decimal(c.amount);
    if (!covers(left, overdraft, amount)) break;
    left = left.minus(amount);
    paying.push({ id: c.id, lineId: c.line_id, reason: c.reason, amount });
  }
  return { wallet, paying };
}

export interface DueChargeRow {
  id: string;
  billing_account_id: string;
  line_id: string | null;
  reason: string;
  description: string;
  amount: string;
  currency: string;
  created_at: Date;
}

/**
 * The account's charges still waiting for a top-up, oldest first. Not one whose chargeId was decided
 * under its key meanwhile (a charge sent under it): the next credit settles it by that decision
 * (closeDueChargesDecided), no top-up pays it.
 */
export async function openDueCharges(sql: Sql, billingAccountId: string): Promise<DueChargeRow[]> {
  return sql.query<DueChargeRow>(
    `select d.id, d.billing_account_id, d.line_id, d.reason, d.description, d.amount::text, d.currency, d.created_at from due_charge d where d.billing_account_id = $1 and d.settled_at is null
       and ${DUE_CHARGE_KEY_FREE}
     order by d.created_at, d.id`,
    [billingAccountId],
  );
}

export interface Charge {
  id: string;
  lineId: string | null;
  reason: string;
  /** Positive: taken from the balance; negative: credited to it. */
  amount: Decimal;
}

/** Ledger transactions (wallet ↔ revenue), one per charge, and the balance events of the change. */
async function take(sql: Sql, wallet: WalletRow, charges: Charge[], before: Decimal, now: Date): Promise<string[]> {
  const txs: NewTransaction[] = charges.map((c) => ({
    id: newTxId(),
    idempotencyKey: chargeKey(c.id),
    kind: c.amount.isNegative() ? 'ONE_OFF_CREDIT' : 'ONE_OFF_CHARGE',
    billingAccountId: wallet.billing_account_id,
    reference: c.lineId,
    outcome: { chargeId: c.id, reason: c.reason, amount: fmt(c.amount), currency: wallet.currency },
    entries: [
      { accountId: wallet.id, unit: wallet.currency, amount: c.amount.negated() },
      { accountId: accountId(wallet.billing_account_id, 'REVENUE', wallet.currency), unit: wallet.currency, amount: c.amount },
    ],
  }));
  await postTransactions(sql, txs, now);
  const after = charges.reduce((b, c) => b.minus(c.amount), before);
  await emitBalanceEvents(sql, now, [{
    walletId: wallet.id, billingAccountId: wallet.billing_account_id, currency: wallet.currency, paymentMode: wallet.payment_mode,
    lowBalanceThreshold: wallet.low_balance_threshold === null ? null : new Decimal(wallet.low_balance_threshold), before, after, cause: txs[txs.length - 1]!.id!,
  }], []);
  return txs.map((t) => t.id!);
}
