import { createHash, randomInt } from 'node:crypto';
import { Decimal, DomainError, badInput, newId, notFound, type Caller } from '@ledgerline/contracts';
import type { PaymentMode } from '@ledgerline/contracts';
import type { Db, Sql } from '../persistence/sql';
import { creditWallet, checkKey, requirePrepaid, type TopupResult } from './topup-balance';
import { enteredAmount } from './wallets';
import { findTransaction, type StoredTransaction } from './ledger';
import { fmt } from '../domain/charging';

/** 20 characters from a 32-symbol alphabet without look-alikes: 100 bits, not guessable. */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const CODE_LENGTH = 20;
export const MAX_FAILED_ATTEMPTS = 5;
export const ATTEMPT_WINDOW_MS = 15 * 60_000;

export const normalizeCode = (code: string): string => (code ?? '').toUpperCase().replace(/[\s-]/g, '');
const hashCode = (code: string): string => createHash('sha256').update(`ledgerline-voucher:${normalizeCode(code)}`).digest('hex');

export function generateCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return code.match(/.{4}/g)!.join('-');
}

export interface IssueVoucherCommand {
  amount: { amount: string; currency: string };
  expiresAt: Date;
  caller: Caller;
  now: Date;
}

/** Issues a voucher; the code is shown once and only its hash is stored. */
export async function issueVoucher(sql: Sql, c: IssueVoucherCommand): Promise<{ id: string; code: string; amount: string; currency: string; expiresAt: Date; status: string }> {
  if (!['ADMIN', 'SYSTEM'].includes(c.caller.role)) throw new DomainError('FORBIDDEN', 'Only administrators issue vouchers', { field: 'input' }, 'FORBIDDEN');
  const amount = enteredAmount(c.amount);
  if (!(c.expiresAt > c.now)) throw badInput('input.expiresAt', 'A voucher must expire in the future', 'VALIDITY_INVALID');
  const code = generateCode();
  const id = newId('payment').replace(/^pay_/, 'vou_');
  await sql.query(`insert into voucher (id, code_hash, amount, currency, expires_at, status, created_at) values ($1,$2,$3,$4,$5,'ACTIVE',$6)`, [id, hashCode(code), fmt(amount), c.amount.currency, c.expiresAt, c.now]);
  return { id, code, amount: fmt(amount), currency: c.amount.currency, expiresAt: c.expiresAt, status: 'ACTIVE' };
}

export interface RedeemVoucherCommand {
  billingAccountId: string;
  code: string;
  idempotencyKey: string;
  now: Date;
}

/**
 * Redeems a voucher into the account's wallet of the voucher's currency: single use (row lock +
 * status), expiry, and at most MAX_FAILED_ATTEMPTS failed tries per account per 15 minutes.
 * An account's redemptions run one at a time (an advisory lock held to the end of the
 * transaction): guesses sent together used to be counted before any of them had failed, so all
 * were tried. A failed try (refused before anything is written) is recorded in the same
 * transaction, which commits with it, so the next try counts it. The idempotency key is
 * looked up under the account's lock, before the attempts are counted (a retry that waited for the
 * first redemption, or comes after 5 wrong codes, gets its answer), and answers only the same
 * account and code; another account using the key at the same time meets it in creditWallet's key
 * lock (IDEMPOTENCY_KEY_REUSED). A POSTPAID account is refused before any code is
 * looked up (WALLET_NOT_PREPAID: it pays its invoices; the voucher stays unused), and a voucher in
 * a currency the account has no wallet in is refused naming the code, and stays unused too.
 */
export async function redeemVoucher(db: Db, c: RedeemVoucherCommand): Promise<TopupResult> {
  checkKey(c.idempotencyKey);
  if (!c.billingAccountId) throw badInput('input.billingAccountId', 'billingAccountId is required');
  const wallets = await db.query<{ currency: string; payment_mode: PaymentMode }>(`select currency, payment_mode from wallet where billing_account_id = $1`, [c.billingAccountId]);
  if (wallets.length === 0) throw notFound('Wallet', `of billing account ${c.billingAccountId}`, 'input.billingAccountId');
  if (!wallets.some((w) => w.payment_mode === 'PREPAID')) requirePrepaid({ billing_account_id: c.billingAccountId, payment_mode: wallets[0]!.payment_mode });
  const since = new Date(c.now.getTime() - ATTEMPT_WINDOW_MS);
  const outcome = await db.tx(async (sql): Promise<{ topup: TopupResult } | { refused: DomainError }> => {
    await sql.query(`select pg_advisory_xact_lock(hashtext('voucher-attempts:' || $1::text))`, [c.billingAccountId]);
    // A retry of a redemption that was made is answered before the attempts are counted: it is
    // not a guess (it got VOUCHER_ATTEMPTS_EXCEEDED once the account had 5 wrong codes).
    const replay = await findTransaction(sql, `VOUCHER:${c.idempotencyKey}`);
    if (replay) return { topup: await replayRedemption(sql, c, replay) };
    const failed = await sql.query<{ n: string }>(`select count(*) as n from voucher_attempt where billing_account_id = $1 and not succeeded and at > $2`, [c.billingAccountId, since]);
    if (Number(failed[0]!.n) >= MAX_FAILED_ATTEMPTS) {
      throw new DomainError('VOUCHER_ATTEMPTS_EXCEEDED', `Too many wrong voucher codes; try again after ${ATTEMPT_WINDOW_MS / 60_000} minutes`, { field: 'input.code' }, 'BAD_USER_INPUT');
    }
    try {
      const code = normalizeCode(c.code);
      const v = (await sql.query<{ id: string; amount: string; currency: string; expires_at: Date; status: string; transaction_id: string | null }>(`select * from voucher where code_hash = $1 for update`, [hashCode(code)]))[0];
      if (!v) throw new DomainError('VOUCHER_NOT_FOUND', 'No voucher has this code', { field: 'input.code' });
      if (v.status !== 'ACTIVE') throw new DomainError('VOUCHER_ALREADY_USED', 'This voucher was already redeemed', { field: 'input.code' });
      if (v.expires_at <= c.now) throw new DomainError('VOUCHER_EXPIRED', `This voucher expired on ${v.expires_at.toISOString().slice(0, 10)}`, { field: 'input.code' }, 'BAD_USER_INPUT');
      // The voucher's currency picks the wallet; the input has no amount, so a mismatch names the code.
      const wallet = wallets.find((w) => w.currency === v.currency);
      if (!wallet) throw new DomainError('WALLET_CURRENCY_MISMATCH', `This voucher is worth ${new Decimal(v.amount).toFixed()} ${v.currency}; billing account ${c.billingAccountId} has no ${v.currency} wallet (it has ${wallets.map((w) => w.currency).join(', ')})`, { field: 'input.code' }, 'BAD_USER_INPUT');
      requirePrepaid({ billing_account_id: c.billingAccountId, payment_mode: wallet.payment_mode });
      const topup = await creditWallet(sql, { billingAccountId: c.billingAccountId, amount: { amount: new Decimal(v.amount).toFixed(), currency: v.currency }, idempotencyKey: c.idempotencyKey, reference: v.id, now: c.now }, { kind: 'VOUCHER', contra: 'VOUCHER_CLEARING', channel: 'VOUCHER' });
      await sql.query(`update voucher set status = 'REDEEMED', redeemed_wallet_id = $2, redeemed_at = $3, transaction_id = $4 where id = $1`, [v.id, topup.walletId, c.now, topup.id]);
      await sql.query(`insert into voucher_attempt (billing_account_id, succeeded, at) values ($1, true, $2)`, [c.billingAccountId, c.now]);
      return { topup };
    } catch (error) {
      // Refused before anything was written: the failed try is all this transaction commits.
      if (error instanceof DomainError && ['VOUCHER_NOT_FOUND', 'VOUCHER_ALREADY_USED', 'VOUCHER_EXPIRED'].includes(error.code)) {
        await sql.query(`insert into voucher_attempt (billing_account_id, succeeded, at) values ($1, false, $2)`, [c.billingAccountId, c.now]);
        return { refused: error };
      }
      throw error;
    }
  });
  if ('refused' in outcome) throw outcome.refused;
  return outcome.topup;
}

/**
 * The answer to a redemption whose key is already in the ledger: the stored top-up when it was
 * this account redeeming this code, else IDEMPOTENCY_KEY_REUSED (counted as no attempt).
 */
async function replayRedemption(sql: Sql, c: RedeemVoucherCommand, replay: StoredTransaction): Promise<TopupResult> {
  const first = replay.outcome as TopupResult;
  const redeemed = await sql.query(`select 1 from voucher where code_hash = $1 and transaction_id = $2`, [hashCode(normalizeCode(c.code)), replay.id]);
  if (redeemed.length > 0 && first?.billingAccountId === c.billingAccountId) return { ...first, createdAt: replay.created_at, created: false };
  throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for a different request', { field: 'input.idempotencyKey' });
}
