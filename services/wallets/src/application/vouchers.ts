import { createHash, createHmac, randomInt } from 'node:crypto';
import { ConfigError } from '@ledgerline/platform';
import { Decimal, DomainError, badInput, conflict, newId, notFound, type Caller } from '@ledgerline/contracts';
import type { PaymentMode } from '@ledgerline/contracts';
import type { Db, Sql } from '../persistence/sql';
import { creditWallet, checkKey, requirePrepaid, type TopupResult } from './topup-balance';
import { enteredAmount, requireOpen, type WalletStatus } from './wallets';
import { findCallerTransaction, lockIdempotencyKey, requestHash, type StoredTransaction } from './ledger';
import { fmt } from '../domain/charging';

/** 20 characters from a 32-symbol alphabet without look-alikes: 100 bits, not guessable. */
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const CODE_LENGTH = 20;
export const MAX_FAILED_ATTEMPTS = 5;
export const ATTEMPT_WINDOW_MS = 15 * 60_000;
/** A code's first 16 characters (4 of its 5 groups): what one guessing a partly known code keeps. */
export const CODE_PREFIX_LENGTH = 16;

/**
 * How many wrong codes are tried per window before VOUCHER_ATTEMPTS_EXCEEDED. `perAccount` was the only
 * limit; one with many accounts (or cycling them) tried 5 codes on each. `perCaller`: per signed caller
 * (role:subject; a subgraph does not see the client's IP, the gateway does); `perPrefix`: failures on codes
 * sharing their first 16 characters (a partly read or leaked code guessed on its last group, from any
 * account or caller); `global`: all failures, a brake on guessing spread over many callers (while it holds,
 * every redemption is refused: the price of a distributed attack; it is counted in the metric). `global` is
 * off (0) unless configured: anyone able to send wrong codes could otherwise pause every customer's
 * redemptions, and random codes (five groups of base-32) are not guessable without a known prefix. Env:
 * WALLETS_VOUCHER_MAX_FAILED_PER_ACCOUNT / _PER_CALLER / _PER_PREFIX / _GLOBAL and
 * WALLETS_VOUCHER_ATTEMPT_WINDOW_MINUTES.
 */
export interface VoucherLimits {
  perAccount: number;
  perCaller: number;
  perPrefix: number;
  global: number;
  windowMs: number;
}
export const DEFAULT_VOUCHER_LIMITS: VoucherLimits = { perAccount: MAX_FAILED_ATTEMPTS, perCaller: 20, perPrefix: 5, global: 0, windowMs: ATTEMPT_WINDOW_MS };
export type VoucherLimit = 'account' | 'caller' | 'prefix' | 'global';

/** The limits from the environment over the defaults; a value that is not a positive integer stops start-up, naming it. */
export function voucherLimitsFromEnv(env: Record<string, string | undefined>): VoucherLimits {
  const read = (name: string, fallback: number, min = 1): number => {
    const raw = env[name];
    if (raw == null || raw.trim() === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new ConfigError(name, min === 0 ? `must be a whole number (0: off), got "${raw}"` : `must be a positive integer, got "${raw}"`);
    return n;
  };
  return {
    perAccount: read('WALLETS_VOUCHER_MAX_FAILED_PER_ACCOUNT', DEFAULT_VOUCHER_LIMITS.perAccount),
    perCaller: read('WALLETS_VOUCHER_MAX_FAILED_PER_CALLER', DEFAULT_VOUCHER_LIMITS.perCaller),
    perPrefix: read('WALLETS_VOUCHER_MAX_FAILED_PER_PREFIX', DEFAULT_VOUCHER_LIMITS.perPrefix),
    global: read('WALLETS_VOUCHER_MAX_FAILED_GLOBAL', DEFAULT_VOUCHER_LIMITS.global, 0),
    windowMs: read('WALLETS_VOUCHER_ATTEMPT_WINDOW_MINUTES', DEFAULT_VOUCHER_LIMITS.windowMs / 60_000) * 60_000,
  };
}

export const normalizeCode = (code: string): string => (code ?? '').toUpperCase().replace(/[\s-]/g, '');
const hashCode = (code: string): string => createHash('sha256').update(`ledgerline-voucher:${normalizeCode(code)}`).digest('hex');

export function generateCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return code.match(/.{4}/g)!.join('-');
}

/**
 * The code of the voucher an issuer asks for under a key: a keyed hash of issuer and key, so a retry answers the same
 * code while only the code's hash is stored. Keyed with the internal secret: whoever holds it can already sign
 * a SYSTEM caller and issue vouchers; after it changes, an earlier voucher's code cannot be answered again.
 */
export function keyedCode(secret: string, issuer: string, idempotencyKey: string): string {
  const digest = createHmac('sha256', secret).update(`ledgerline-voucher-code\u001f${issuer}\u001f${idempotencyKey}`).digest();
  let bits = 0n;
  for (const byte of digest.subarray(0, 13)) bits = (bits << 8n) | BigInt(byte);
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += ALPHABET[Number((bits >> BigInt(5 * i)) & 31n)];
  return code.match(/.{4}/g)!.join('-');
}

export interface IssueVoucherCommand {
  amount: { amount: string; currency: string };
  expiresAt: Date;
  idempotencyKey: string;
  caller: Caller;
  now: Date;
  /** Keys the codes (keyedCode): the service's internal secret. */
  secret: string;
}

type VoucherRow = { id: string; code_hash: string; amount: string; currency: string; expires_at: Date; status: string; request_hash: string | null };

/**
 * Issues a voucher; the code is shown once and only its hash is stored. Idempotent per issuer (role:subject) and
 * key: a retry answers the same voucher with the same code (keyedCode), in whatever status it is now; other input
 * under the key is IDEMPOTENCY_KEY_REUSED.
 */
export async function issueVoucher(sql: Sql, c: IssueVoucherCommand): Promise<{ id: string; code: string; amount: string; currency: string; expiresAt: Date; status: string }> {
  if (!['ADMIN', 'SYSTEM'].includes(c.caller.role)) throw new DomainError('FORBIDDEN', 'Only administrators issue vouchers', { field: 'input' }, 'FORBIDDEN');
  checkKey(c.idempotencyKey);
  const amount = enteredAmount(c.amount);
  const issuer = `${c.caller.role}:${c.caller.subject}`;
  const hash = requestHash({ a: fmt(amount), c: c.amount.currency, e: c.expiresAt.toISOString() });
  const code = keyedCode(c.secret, issuer, c.idempotencyKey);
  await lockIdempotencyKey(sql, `VOUCHER_ISSUE@${issuer}:${c.idempotencyKey}`);
  const [prior] = await sql.query<VoucherRow>(`select id, code_hash, amount, currency, expires_at, status, request_hash from voucher where issued_by = $1 and idempotency_key = $2`, [issuer, c.idempotencyKey]);
  if (prior) {
    if (prior.request_hash !== hash) throw conflict('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for a different request; use a new key for a new request', { field: 'input.idempotencyKey' });
    if (prior.code_hash !== hashCode(code)) throw conflict('VOUCHER_CODE_UNAVAILABLE', `Voucher ${prior.id} was issued under this key before the service's secret changed: its code cannot be shown again`, { field: 'input.idempotencyKey' });
    return { id: prior.id, code, amount: fmt(new Decimal(prior.amount)), currency: prior.currency, expiresAt: prior.expires_at, status: prior.status };
  }
  if (!(c.expiresAt > c.now)) throw badInput('input.expiresAt', 'A voucher must expire in the future', 'VALIDITY_INVALID');
  const id = newId('voucher');
  await sql.query(
    `insert into voucher (id, code_hash, amount, currency, expires_at, status, created_at, issued_by, idempotency_key, request_hash) values ($1,$2,$3,$4,$5,'ACTIVE',$6,$7,$8,$9)`,
    [id, hashCode(code), fmt(amount), c.amount.currency, c.expiresAt, c.now, issuer, c.idempotencyKey, hash],
  );
  return { id, code, amount: fmt(amount), currency: c.amount.currency, expiresAt: c.expiresAt, status: 'ACTIVE' };
}

export interface RedeemVoucherCommand {
  billingAccountId: string;
  code: string;
  idempotencyKey: string;
  now: Date;
  /** Who asks (`role:subject` of the signed caller), counted in the per-caller limit; none: not counted there. */
  caller?: string;
  /** Defaults: DEFAULT_VOUCHER_LIMITS. */
  limits?: VoucherLimits;
  /** Told which limit refused a redemption (the service counts it: ledgerline_wallets_voucher_attempts_refused_total). */
  onRefused?: (limit: VoucherLimit) => void;
}

/**
 * Redeems a voucher into the account's wallet of the voucher's currency: single use (row lock +
 * status), expiry, and limited wrong codes per window per account, caller, code prefix and in all
 * (VoucherLimits).
 * An account's redemptions run one at a time (an advisory lock held to the end of the
 * transaction): guesses sent together used to be counted before any of them had failed, so all
 * were tried. A failed try (refused before anything is written) is recorded in the same
 * transaction, which commits with it, so the next try counts it. The idempotency key is
 * looked up under the account's lock, before the attempts are counted and before a closed account
 * is refused (a retry that waited for the first redemption, or comes after 5 wrong codes or after
 * the account closed, gets its answer), and answers only the same
 * account and code. The key is the account's (ledger key `VOUCHER@<account>:<key>`): another account
 * redeeming under the same key redeems on its own; a redemption written before keys were scoped
 * (`VOUCHER:<key>`) still answers its account's retries. A POSTPAID account is refused before any code is
 * looked up (WALLET_NOT_PREPAID: it pays its invoices; the voucher stays unused), and a voucher in
 * a currency the account has no wallet in is refused naming the code, and stays unused too.
 */
export async function redeemVoucher(db: Db, c: RedeemVoucherCommand): Promise<TopupResult> {
  checkKey(c.idempotencyKey);
  if (!c.billingAccountId) throw badInput('input.billingAccountId', 'billingAccountId is required');
  const wallets = await db.query<{ currency: string; payment_mode: PaymentMode; status: WalletStatus; closed_at: Date | null }>(`select currency, payment_mode, status, closed_at from wallet where billing_account_id = $1`, [c.billingAccountId]);
  if (wallets.length === 0) throw notFound('Wallet', `of billing account ${c.billingAccountId}`, 'input.billingAccountId');
  if (!wallets.some((w) => w.payment_mode === 'PREPAID')) requirePrepaid({ billing_account_id: c.billingAccountId, payment_mode: wallets[0]!.payment_mode });
  const open = wallets.filter((w) => w.payment_mode === 'PREPAID' && w.status !== 'CLOSED');
  const limits = c.limits ?? DEFAULT_VOUCHER_LIMITS;
  const since = new Date(c.now.getTime() - limits.windowMs);
  const code = normalizeCode(c.code);
  const prefix = code.length > CODE_PREFIX_LENGTH ? code.slice(0, CODE_PREFIX_LENGTH) : null;
  const caller = c.caller ?? null;
  const outcome = await db.tx(async (sql): Promise<{ topup: TopupResult } | { refused: DomainError }> => {
    // Tries of one caller, one account, one code prefix run one at a time (advisory locks held to the end of the
    // transaction, always taken in this order): guesses sent together are counted after the earlier ones
    // failed. The global count takes no lock: guesses in flight together may pass it by their number.
    if (caller) await sql.query(`select pg_advisory_xact_lock(hashtext('voucher-attempts-caller:' || $1::text))`, [caller]);
    await sql.query(`select pg_advisory_xact_lock(hashtext('voucher-attempts:' || $1::text))`, [c.billingAccountId]);
    if (prefix) await sql.query(`select pg_advisory_xact_lock(hashtext('voucher-attempts-prefix:' || $1::text))`, [prefix]);
    // A retry of a redemption that was made is answered before the attempts are counted: it is
    // not a guess (it got VOUCHER_ATTEMPTS_EXCEEDED once the account had 5 wrong codes).
    const replay = await findCallerTransaction(sql, 'VOUCHER', c.billingAccountId, c.idempotencyKey);
    if (replay) return { topup: await replayRedemption(sql, c, replay) };
    // A closed account redeems nothing: refused before any code is looked up (the voucher stays
    // unused, no attempt counted), but after the key: a retry of a redemption made before the close
    // gets its answer (it was refused WALLET_CLOSED). A wallet closing meanwhile is refused by
    // creditWallet under its lock.
    if (open.length === 0) requireOpen({ billing_account_id: c.billingAccountId, ...wallets.find((w) => w.payment_mode === 'PREPAID')! });
    // Four counts in one statement, each by its partial index on the failures.
    const [n] = await sql.query<{ account: string; caller: string; prefix: string; global: string }>(
      `select (select count(*) from voucher_attempt where billing_account_id = $1 and not succeeded and at > $2) as account,
              (select count(*) from voucher_attempt where $3::text is not null and caller = $3 and not succeeded and at > $2) as caller,
              (select count(*) from voucher_attempt where $4::text is not null and code_prefix = $4 and not succeeded and at > $2) as prefix,
              (select count(*) from (select 1 from voucher_attempt where not succeeded and at > $2 limit $5) g) as global`,
      [c.billingAccountId, since, caller, prefix, limits.global],
    );
    const minutes = limits.windowMs / 60_000;
    const exceeded: [VoucherLimit, boolean, string][] = [
      ['account', Number(n!.account) >= limits.perAccount, `Too many wrong voucher codes on billing account ${c.billingAccountId}`],
      ['caller', Number(n!.caller) >= limits.perCaller, 'Too many wrong voucher codes from this caller'],
      ['prefix', Number(n!.prefix) >= limits.perPrefix, 'Too many wrong tries of codes beginning like this one'],
      ['global', limits.global > 0 && Number(n!.global) >= limits.global, 'Too many wrong voucher codes are being tried; voucher redemption is paused'],
    ];
    const hit = exceeded.find(([, over]) => over);
    if (hit) {
      c.onRefused?.(hit[0]);
      throw new DomainError('VOUCHER_ATTEMPTS_EXCEEDED', `${hit[2]}; try again after ${minutes} minutes`, { field: 'input.code', limit: hit[0] }, 'BAD_USER_INPUT');
    }
    try {
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
      await sql.query(`insert into voucher_attempt (billing_account_id, succeeded, at, caller, code_prefix) values ($1, true, $2, $3, $4)`, [c.billingAccountId, c.now, caller, prefix]);
      return { topup };
    } catch (error) {
      // Refused before anything was written: the failed try is all this transaction commits.
      if (error instanceof DomainError && ['VOUCHER_NOT_FOUND', 'VOUCHER_ALREADY_USED', 'VOUCHER_EXPIRED'].includes(error.code)) {
        await sql.query(`insert into voucher_attempt (billing_account_id, succeeded, at, caller, code_prefix) values ($1, false, $2, $3, $4)`, [c.billingAccountId, c.now, caller, prefix]);
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
