import { Decimal, DomainError, WORK_SUBJECTS, badInput, conflict, newId, notFound, type Caller, type ChargeResult } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox, type OutboxRow } from '../persistence/sql';
import { accountId, findCallerTransaction, lockIdempotencyKey, newTxId, postTransactions, replayOrConflict, requestHash, scopedCallerKey } from './ledger';
import { WALLET_SETTLED, walletById, type WalletRow } from './wallets';
import { chargeResultMessageId } from './apply-charges';
import { checkKey } from './topup-balance';
import { emitBalanceEvents } from './balance-events';
import { settleAfterCredit } from './one-off-charges';
import { fmt } from '../domain/charging';
import { heldAmount, payableAmount, requireMinorUnits } from '../domain/entered-money';

export interface AdjustBalanceCommand {
  walletId: string;
  /** Signed: positive credits (goodwill), negative debits. */
  amount: { amount: string; currency: string };
  reason: string;
  idempotencyKey: string;
  caller: Caller;
  now: Date;
}

export interface AdjustmentRow {
  id: string;
  wallet_id: string;
  amount: string;
  reason: string;
  agent: string;
  agent_role: string;
  transaction_id: string;
  created_at: Date;
}

/**
 * An agent's goodwill credit or debit (TM Forum AdjustBalance): reason required, audited, idempotent
 * by key within the wallet's billing account. On a PREPAID wallet it moves the balance (never below the overdraft floor). A POSTPAID
 * account has no balance anyone draws on: it owes what its UNBILLED_RECEIVABLE holds and pays
 * invoices. There the adjustment changes what it owes (a credit lowers it, a debit raises it, never
 * beyond the credit limit) and reaches its next invoice as a line: a ChargeResult of its own
 * (chargeId = the adjustment id, usage type ADJUSTMENT, negative for a credit), which invoicing
 * records as an unbilled charge like a rerate's correction.
 */
export async function adjustBalance(sql: Sql, c: AdjustBalanceCommand): Promise<AdjustmentRow> {
  if (!['AGENT', 'ADMIN', 'SYSTEM'].includes(c.caller.role)) throw new DomainError('FORBIDDEN', 'Only agents may adjust a balance', { field: 'input' }, 'FORBIDDEN');
  checkKey(c.idempotencyKey);
  if (!/^-?\d+(\.\d{1,6})?$/.test(c.amount?.amount ?? '')) throw badInput('input.amount.amount', `"${c.amount?.amount}" is not a decimal amount`, 'AMOUNT_INVALID');
  const amount = new Decimal(c.amount.amount);
  if (amount.isZero()) throw badInput('input.amount.amount', 'An adjustment of zero changes nothing', 'AMOUNT_NOT_POSITIVE');
  if (!c.reason || c.reason.trim().length < 3) throw badInput('input.reason', 'Say why the balance is adjusted (at least 3 characters)', 'REASON_REQUIRED');
  const wallet = await walletById(sql, c.walletId, true);
  if (!wallet) throw notFound('Wallet', c.walletId, 'input.walletId');
  if (wallet.currency !== c.amount.currency) throw new DomainError('WALLET_CURRENCY_MISMATCH', `Wallet ${wallet.id} holds ${wallet.currency}, not ${c.amount.currency}`, { field: 'input.amount.currency' }, 'BAD_USER_INPUT');
  requireMinorUnits(amount, wallet.currency, 'input.amount.amount');
  const hash = requestHash({ w: c.walletId, a: fmt(amount), c: c.amount.currency, r: c.reason });
  // The key is the wallet's account's (`ADJUST@<account>:<key>`; one written before keys were scoped, `ADJUST:<key>`, answers too).
  const key = scopedCallerKey('ADJUST', wallet.billing_account_id, c.idempotencyKey);
  await lockIdempotencyKey(sql, key);
  const existing = await findCallerTransaction(sql, 'ADJUST', wallet.billing_account_id, c.idempotencyKey);
  if (existing) {
    replayOrConflict(existing, hash);
    return (await sql.query<AdjustmentRow>(`select * from balance_adjustment where transaction_id = $1`, [existing.id]))[0]!;
  }
  requireNotSettled(wallet);
  const postpaid = wallet.payment_mode === 'POSTPAID';
  const before = new Decimal(wallet.balance);
  const after = postpaid ? before : before.plus(amount);
  if (postpaid) requireWithinCreditLimit(wallet, amount);
  else if (amount.isNegative() && after.lessThan(new Decimal(wallet.overdraft_limit).negated())) {
    const overdraft = new Decimal(wallet.overdraft_limit);
    const cur = wallet.currency;
    throw new DomainError('WALLET_INSUFFICIENT_BALANCE', `A debit of ${amount.negated().toFixed()} ${cur} would take the balance below its overdraft limit (balance ${heldAmount(before, cur)} ${cur}, overdraft limit ${heldAmount(overdraft, cur)} ${cur}: at most ${payableAmount(before.plus(overdraft), cur)} ${cur} can be debited)`, { field: 'input.amount.amount' }, 'BAD_USER_INPUT');
  }
  // What the adjustment moves: the prepaid balance, or what a postpaid account owes (a credit is
  // + on UNBILLED_RECEIVABLE, whose balance is minus what is owed; a charge books it − like this).
  const moved = postpaid ? accountId(wallet.billing_account_id, 'UNBILLED_RECEIVABLE', wallet.currency) : wallet.id;
  const txId = newTxId();
  await postTransactions(sql, [{ id: txId, idempotencyKey: key, kind: 'ADJUSTMENT', billingAccountId: wallet.billing_account_id, requestHash: hash, reference: c.reason, entries: [
    { accountId: moved, unit: wallet.currency, amount },
    { accountId: accountId(wallet.billing_account_id, 'ADJUSTMENTS', wallet.currency), unit: wallet.currency, amount: amount.negated() },
  ] }], c.now);
  const id = newId('balanceAdjustment');
  const row = (await sql.query<AdjustmentRow>(
    `insert into balance_adjustment (id, wallet_id, amount, reason, agent, agent_role, transaction_id, created_at) values ($1,$2,$3,$4,$5,$6,$7,$8) returning *`,
    [id, wallet.id, fmt(amount), c.reason.trim(), c.caller.subject, c.caller.role, txId, c.now],
  ))[0]!;
  const events: OutboxRow[] = [eventRow('balanceAdjusted', wallet.id, [id], c.now, { adjustmentId: id, walletId: wallet.id, billingAccountId: wallet.billing_account_id, amount: { amount: fmt(amount), currency: wallet.currency }, reason: row.reason, agent: row.agent })];
  if (postpaid) {
    const result = adjustmentChargeResult(wallet, id, amount, c.now);
    events.push({ id: chargeResultMessageId(result.chargeId), subject: WORK_SUBJECTS.chargeApplied, payload: JSON.stringify(result), createdAt: c.now });
  }
  await insertOutbox(sql, events);
  if (!postpaid) await emitBalanceEvents(sql, c.now, [{ walletId: wallet.id, billingAccountId: wallet.billing_account_id, currency: wallet.currency, paymentMode: wallet.payment_mode, lowBalanceThreshold: wallet.low_balance_threshold === null ? null : new Decimal(wallet.low_balance_threshold), before, after, cause: txId }], []);
  // A goodwill credit is money on the balance like a top-up: it pays what is due first.
  if (!postpaid && amount.isPositive()) await settleAfterCredit(sql, wallet.billing_account_id, wallet.currency, c.now);
  return row;
}

/**
 * A settled wallet's balance is the final figure wallet.settled gave finance to pay out: an
 * adjustment would change it behind that figure (and a credit would first pay one-off charges left
 * due). Its money leaves only by payOutWalletBalance, which the ledger and the event record as a payout.
 */
function requireNotSettled(wallet: WalletRow): void {
  if (!wallet.settled_at) return;
  throw conflict(
    WALLET_SETTLED,
    `The ${wallet.currency} wallet of billing account ${wallet.billing_account_id} was settled at ${new Date(wallet.settled_at).toISOString()}: its final balance is what finance pays out and is not adjusted any more; record money paid back to the customer with payOutWalletBalance`,
    { field: 'input.walletId', walletId: wallet.id },
  );
}

/** A postpaid debit accrues like a charge: what the account owes stays within its credit limit (none: no limit). */
function requireWithinCreditLimit(wallet: WalletRow, amount: Decimal): void {
  if (!amount.isNegative() || wallet.credit_limit === null) return;
  const owed = new Decimal(wallet.unbilled);
  const limit = new Decimal(wallet.credit_limit);
  const debit = amount.negated();
  if (owed.plus(debit).lte(limit)) return;
  const room = Decimal.max(limit.minus(owed), 0);
  throw new DomainError(
    'CREDIT_LIMIT_EXCEEDED',
    `A debit of ${debit.toFixed()} ${wallet.currency} would take what the account owes to ${heldAmount(owed.plus(debit), wallet.currency)} ${wallet.currency}, beyond its credit limit of ${heldAmount(limit, wallet.currency)} ${wallet.currency} (at most ${payableAmount(room, wallet.currency)} ${wallet.currency} may still be debited)`,
    { field: 'input.amount.amount' },
    'BAD_USER_INPUT',
  );
}

/**
 * The ChargeResult a postpaid adjustment publishes for invoicing (WORK_SUBJECTS.chargeApplied): one
 * item of usage type ADJUSTMENT, amountCharged the opposite of the credit (a credit of 10 is a
 * charge of -10, a credit line on the next invoice). Usage finds no record with this chargeId and
 * ignores it.
 */
export function adjustmentChargeResult(wallet: WalletRow, adjustmentId: string, amount: Decimal, now: Date): ChargeResult {
  return {
    chargeId: adjustmentId, outcome: 'APPLIED', billingAccountId: wallet.billing_account_id, lineId: '', paymentMode: 'POSTPAID',
    usageType: 'ADJUSTMENT', occurredAt: now.toISOString(), units: '1', unit: 'ITEM', unitsFromAllowances: '0',
    amountCharged: fmt(amount.negated()), currency: wallet.currency,
  };
}
