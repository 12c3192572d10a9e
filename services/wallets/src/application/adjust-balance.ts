import { Decimal, DomainError, badInput, newId, notFound, type Caller } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { accountId, findTransaction, newTxId, postTransactions, replayOrConflict, requestHash } from './ledger';
import { walletById } from './wallets';
import { checkKey } from './topup-balance';
import { emitBalanceEvents } from './balance-events';
import { fmt } from '../domain/charging';
import { requireMinorUnits } from '../domain/entered-money';

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

/** An agent's goodwill credit or debit (TM Forum AdjustBalance): reason required, audited, never below the overdraft floor. */
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
  const existing = await findTransaction(sql, `ADJUST:${c.idempotencyKey}`);
  if (existing) {
    replayOrConflict(existing, hash);
    return (await sql.query<AdjustmentRow>(`select * from balance_adjustment where transaction_id = $1`, [existing.id]))[0]!;
  }
  const before = new Decimal(wallet.balance);
  const after = before.plus(amount);
  if (amount.isNegative() && after.lessThan(new Decimal(wallet.overdraft_limit).negated())) {
    throw new DomainError('WALLET_INSUFFICIENT_BALANCE', `A debit of ${amount.negated().toFixed()} ${wallet.currency} would take the balance below its overdraft limit (balance ${before.toFixed(2)})`, { field: 'input.amount.amount' }, 'BAD_USER_INPUT');
  }
  const txId = newTxId();
  await postTransactions(sql, [{ id: txId, idempotencyKey: `ADJUST:${c.idempotencyKey}`, kind: 'ADJUSTMENT', billingAccountId: wallet.billing_account_id, requestHash: hash, reference: c.reason, entries: [
    { accountId: wallet.id, unit: wallet.currency, amount },
    { accountId: accountId(wallet.billing_account_id, 'ADJUSTMENTS', wallet.currency), unit: wallet.currency, amount: amount.negated() },
  ] }], c.now);
  const id = newId('payment').replace(/^pay_/, 'adj_');
  const row = (await sql.query<AdjustmentRow>(
    `insert into balance_adjustment (id, wallet_id, amount, reason, agent, agent_role, transaction_id, created_at) values ($1,$2,$3,$4,$5,$6,$7,$8) returning *`,
    [id, wallet.id, fmt(amount), c.reason.trim(), c.caller.subject, c.caller.role, txId, c.now],
  ))[0]!;
  await insertOutbox(sql, [eventRow('balanceAdjusted', wallet.id, [id], c.now, { adjustmentId: id, walletId: wallet.id, billingAccountId: wallet.billing_account_id, amount: { amount: fmt(amount), currency: wallet.currency }, reason: row.reason, agent: row.agent })]);
  await emitBalanceEvents(sql, c.now, [{ walletId: wallet.id, billingAccountId: wallet.billing_account_id, currency: wallet.currency, paymentMode: wallet.payment_mode, lowBalanceThreshold: wallet.low_balance_threshold === null ? null : new Decimal(wallet.low_balance_threshold), before, after, cause: txId }], []);
  return row;
}
