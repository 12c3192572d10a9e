import { Decimal, DomainError, conflict, isApprover, newId, notFound, type Caller, type WalletPaidOutData, type WalletPayoutReturnedData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { accountId, findCallerTransaction, lockIdempotencyKey, newTxId, postTransactions, replayOrConflict, requestHash, scopedCallerKey, type NewTransaction } from './ledger';
import { roundingWriteOff } from './write-off-rounding';
import { enteredAmount, walletById } from './wallets';
import { checkKey } from './topup-balance';
import { fmt } from '../domain/charging';
import { heldAmount, payableAmount } from '../domain/entered-money';

export interface PayOutWalletCommand {
  walletId: string;
  amount: { amount: string; currency: string };
  /** The outgoing transfer's reference (bank, card refund): what reconciles the payout with the bank. */
  payoutReference: string;
  idempotencyKey: string;
  caller: Caller;
  now: Date;
}

export interface WalletPayoutRow {
  id: string;
  wallet_id: string;
  billing_account_id: string;
  amount: string;
  currency: string;
  payout_reference: string;
  paid_out_by: string;
  paid_out_by_role: string;
  transaction_id: string;
  created_at: Date;
  /** Set once the bank sent the payout back (returnPayout). */
  returned_at: Date | null;
  return_reason: string | null;
  returned_by: string | null;
  returned_by_role: string | null;
  return_transaction_id: string | null;
}

/** Why a payout is refused before the wallet is settled: late usage or a confirmed transfer could still move the balance. */
export const WALLET_NOT_SETTLED = 'WALLET_NOT_SETTLED';
/** Why a payout larger than what the wallet still holds is refused. */
export const PAYOUT_EXCEEDS_BALANCE = 'PAYOUT_EXCEEDS_BALANCE';

/**
 * Finance paid (part of) a settled closed wallet's final balance back to the customer: the ledger
 * moves it out (− wallet, + PAYMENTS_CLEARING, kind PAYOUT, the mirror of a top-up), a
 * `wallet_payout` row names the outgoing transfer, and `billing.wallets.wallet.paidout` says so, in
 * one transaction. Only a settled wallet (wallet.settled carried its final balance): before that,
 * late usage or a confirmed bank transfer could still move the balance the payout was sized on.
 * Never more than the wallet holds, so the balance ends at zero at most; a payout leaving less than
 * one minor unit writes that residue off to ROUNDING in the same transaction, so it ends at exactly
 * zero (write-off-rounding.ts). Money leaving the company
 * takes a second pair of eyes: an approver (ADMIN, an AGENT with billing:approve) or the system (a
 * finance integration). Idempotent by key within the wallet's billing account: the same request
 * answers the same payout, another request of the account under the key is CONFLICT
 * IDEMPOTENCY_KEY_REUSED; another account's payout under the key is its own.
 */
export async function payOutWallet(sql: Sql, c: PayOutWalletCommand): Promise<WalletPayoutRow> {
  assertMayPayOut(c.caller, 'pay a wallet out');
  checkKey(c.idempotencyKey);
  const amount = enteredAmount(c.amount, 'input.amount');
  const reference = typeof c.payoutReference === 'string' ? c.payoutReference.trim() : '';
  if (reference.length < 3 || reference.length > 200) {
    throw new DomainError('PAYOUT_REFERENCE_REQUIRED', "Give the outgoing transfer's reference (3 to 200 characters), so the payout can be matched with the bank", { field: 'input.payoutReference' }, 'BAD_USER_INPUT');
  }
  const wallet = await walletById(sql, c.walletId, true);
  if (!wallet) throw notFound('Wallet', c.walletId, 'input.walletId');
  if (wallet.currency !== c.amount.currency) throw new DomainError('WALLET_CURRENCY_MISMATCH', `Wallet ${wallet.id} holds ${wallet.currency}, not ${c.amount.currency}`, { field: 'input.amount.currency' }, 'BAD_USER_INPUT');
  // The key is the wallet's account's (`PAYOUT@<account>:<key>`; one written before keys were scoped, `PAYOUT:<key>`, answers too).
  const key = scopedCallerKey('PAYOUT', wallet.billing_account_id, c.idempotencyKey);
  const hash = requestHash({ w: wallet.id, a: fmt(amount), c: wallet.currency, r: reference });
  await lockIdempotencyKey(sql, key);
  const existing = await findCallerTransaction(sql, 'PAYOUT', wallet.billing_account_id, c.idempotencyKey);
  if (existing) {
    replayOrConflict(existing, hash);
    return (await sql.query<WalletPayoutRow>(`select * from wallet_payout where transaction_id = $1`, [existing.id]))[0]!;
  }
  if (!wallet.settled_at) {
    const state = wallet.status === 'OPEN' ? 'is open' : `is closed but not settled yet (its balance becomes final at ${wallet.final_at ? new Date(wallet.final_at).toISOString() : 'finalAt'})`;
    throw conflict(WALLET_NOT_SETTLED, `Wallet ${wallet.id} ${state}: only a settled wallet's final balance (billing.wallets.wallet.settled) is paid out`, { field: 'input.walletId', walletId: wallet.id });
  }
  const balance = new Decimal(wallet.balance);
  if (amount.gt(balance)) {
    // Exactly what it holds, and the most a payout (whole minor units) can take of it: a balance rated charges left at 9.977 EUR read "9.98".
    const payable = payableAmount(balance, wallet.currency);
    throw conflict(PAYOUT_EXCEEDS_BALANCE, `Wallet ${wallet.id} holds ${heldAmount(balance, wallet.currency)} ${wallet.currency}: a payout of ${amount.toFixed()} ${wallet.currency} is more than that; at most ${payable} ${wallet.currency} can be paid out`, { field: 'input.amount.amount', walletId: wallet.id, balance: fmt(balance), payable });
  }
  const txId = newTxId();
  const payout: NewTransaction = { id: txId, idempotencyKey: key, kind: 'PAYOUT', billingAccountId: wallet.billing_account_id, requestHash: hash, reference, entries: [
    { accountId: wallet.id, unit: wallet.currency, amount: amount.negated() },
    { accountId: accountId(wallet.billing_account_id, 'PAYMENTS_CLEARING', wallet.currency), unit: wallet.currency, amount },
  ] };
  // Less than a minor unit left (9.97 of 9.977 EUR paid out): no payout can take it, so it is written
  // off to ROUNDING with the payout and the wallet ends at 0 (a retry is answered above, writing nothing).
  const writeOff = await roundingWriteOff(sql, wallet, new Date(wallet.settled_at), balance.minus(amount), c.now);
  await postTransactions(sql, writeOff ? [payout, writeOff.tx] : [payout], c.now);
  const row = (await sql.query<WalletPayoutRow>(
    `insert into wallet_payout (id, wallet_id, billing_account_id, amount, currency, payout_reference, paid_out_by, paid_out_by_role, transaction_id, created_at)
     values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) returning *`,
    [newId('walletPayout'), wallet.id, wallet.billing_account_id, fmt(amount), wallet.currency, reference, c.caller.subject, c.caller.role, txId, c.now],
  ))[0]!;
  const data: WalletPaidOutData = {
    payoutId: row.id, walletId: wallet.id, billingAccountId: wallet.billing_account_id,
    amount: { amount: fmt(amount), currency: wallet.currency }, balanceAfter: { amount: fmt(balance.minus(amount).minus(writeOff?.residue ?? 0)), currency: wallet.currency },
    payoutReference: reference, paidOutBy: row.paid_out_by, paidOutByRole: row.paid_out_by_role, paidOutAt: c.now.toISOString(),
    ...(writeOff ? { roundingWrittenOff: { amount: fmt(writeOff.residue), currency: wallet.currency } } : {}),
  };
  await insertOutbox(sql, [eventRow('walletPaidOut', wallet.id, [row.id], c.now, data)]);
  return row;
}

/** Money leaving the company, or coming back from a failed transfer, takes a second pair of eyes. */
function assertMayPayOut(caller: Caller, what: string): void {
  if (!(caller.role === 'SYSTEM' || isApprover(caller))) {
    throw new DomainError('FORBIDDEN', `Only an approver (ADMIN, or an AGENT with scope billing:approve) or the system may ${what}`, { field: 'input' }, 'FORBIDDEN');
  }
}

export interface ReturnPayoutCommand {
  payoutId: string;
  /** Why the bank sent it back (account closed, name mismatch…), as the bank's return says. */
  reason: string;
  idempotencyKey: string;
  caller: Caller;
  now: Date;
}

/** Why a second return of one payout is refused: its money came back once already. */
export const PAYOUT_ALREADY_RETURNED = 'PAYOUT_ALREADY_RETURNED';

/**
 * The bank sent a payout back (the customer's account was closed, the name did not match): its
 * money is no longer on its way to the customer but sits in payments clearing with no owner. The
 * ledger moves the whole payout back (+ wallet, − PAYMENTS_CLEARING, kind PAYOUT_RETURN), the
 * payout row records the return and `billing.wallets.wallet.payoutreturned` says so, in one
 * transaction; finance then pays it out again (payOutWalletBalance) to a corrected account. Locks:
 * the wallet, the key, then the payout row, as a payout takes the wallet then the key, so a return
 * and a payout of one wallet queue rather than deadlock, and two returns of one payout move the
 * money once (the second: CONFLICT PAYOUT_ALREADY_RETURNED). Idempotent by key within the payout's
 * billing account, as a payout.
 */
export async function returnPayout(sql: Sql, c: ReturnPayoutCommand): Promise<WalletPayoutRow> {
  assertMayPayOut(c.caller, 'record a returned payout');
  checkKey(c.idempotencyKey);
  const reason = typeof c.reason === 'string' ? c.reason.trim() : '';
  if (reason.length < 3 || reason.length > 500) {
    throw new DomainError('RETURN_REASON_REQUIRED', "Give the bank's reason for the return (3 to 500 characters)", { field: 'input.reason' }, 'BAD_USER_INPUT');
  }
  const found = typeof c.payoutId === 'string' ? (await sql.query<WalletPayoutRow>(`select * from wallet_payout where id = $1`, [c.payoutId]))[0] : undefined;
  if (!found) throw notFound('Payout', String(c.payoutId), 'input.payoutId');
  const wallet = (await walletById(sql, found.wallet_id, true))!;
  const key = scopedCallerKey('PAYOUT_RETURN', found.billing_account_id, c.idempotencyKey);
  const hash = requestHash({ p: found.id, r: reason });
  await lockIdempotencyKey(sql, key);
  const existing = await findCallerTransaction(sql, 'PAYOUT_RETURN', found.billing_account_id, c.idempotencyKey);
  if (existing) {
    replayOrConflict(existing, hash);
    return (await sql.query<WalletPayoutRow>(`select * from wallet_payout where return_transaction_id = $1`, [existing.id]))[0]!;
  }
  const payout = (await sql.query<WalletPayoutRow>(`select * from wallet_payout where id = $1 for update`, [found.id]))[0]!;
  if (payout.returned_at) {
    throw conflict(PAYOUT_ALREADY_RETURNED, `Payout ${payout.id} was returned already at ${new Date(payout.returned_at).toISOString()}: its money is back on wallet ${payout.wallet_id}`, { field: 'input.payoutId', payoutId: payout.id });
  }
  const amount = new Decimal(payout.amount);
  const txId = newTxId();
  await postTransactions(sql, [{ id: txId, idempotencyKey: key, kind: 'PAYOUT_RETURN', billingAccountId: payout.billing_account_id, requestHash: hash, reference: payout.id, entries: [
    { accountId: accountId(payout.billing_account_id, 'PAYMENTS_CLEARING', payout.currency), unit: payout.currency, amount: amount.negated() },
    { accountId: payout.wallet_id, unit: payout.currency, amount },
  ] }], c.now);
  const row = (await sql.query<WalletPayoutRow>(
    `update wallet_payout set returned_at = $2, return_reason = $3, returned_by = $4, returned_by_role = $5, return_transaction_id = $6 where id = $1 returning *`,
    [payout.id, c.now, reason, c.caller.subject, c.caller.role, txId],
  ))[0]!;
  const data: WalletPayoutReturnedData = {
    payoutId: row.id, walletId: row.wallet_id, billingAccountId: row.billing_account_id,
    amount: { amount: fmt(amount), currency: row.currency }, balanceAfter: { amount: fmt(new Decimal(wallet.balance).plus(amount)), currency: row.currency },
    payoutReference: row.payout_reference, returnReason: reason, returnedBy: c.caller.subject, returnedByRole: c.caller.role, returnedAt: c.now.toISOString(),
  };
  await insertOutbox(sql, [eventRow('walletPayoutReturned', row.wallet_id, [row.id, 'returned'], c.now, data)]);
  return row;
}

/** A wallet's payouts, oldest first (GraphQL `Wallet.payouts`). */
export async function payoutsOf(sql: Pick<Sql, 'query'>, walletId: string): Promise<WalletPayoutRow[]> {
  return sql.query<WalletPayoutRow>(`select * from wallet_payout where wallet_id = $1 order by created_at, id`, [walletId]);
}
