import { Decimal, DomainError, badInput, conflict, isCurrencyCode, type TopupBalanceData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { accountId, newTxId, findCallerTransaction, lockIdempotencyKey, postTransactions, replayOrConflict, requestHash, scopedCallerKey, type AccountKind } from './ledger';
import { DUE_CHARGE_KEY_FREE, settleAfterCredit } from './one-off-charges';
import { WALLET_SETTLED, enteredAmount, positiveAmount, requireOpen, requireWallet, walletSettledMessage, type WalletRow } from './wallets';
import { fmt } from '../domain/charging';

export interface TopupBalanceCommand {
  billingAccountId: string;
  amount: { amount: string; currency: string };
  idempotencyKey: string;
  reference?: string | null;
  now: Date;
}

export interface TopupResult {
  id: string;
  walletId: string;
  billingAccountId: string;
  amount: string;
  currency: string;
  reference: string | null;
  channel: string;
  createdAt: Date;
  /** False when the same request had already been applied (an idempotent replay). */
  created: boolean;
}

export function checkKey(key: string, field = 'input.idempotencyKey'): void {
  if (typeof key !== 'string' || key.length < 8 || key.length > 200) throw badInput(field, 'An idempotency key of 8 to 200 characters is required', 'IDEMPOTENCY_KEY_INVALID');
}

/**
 * Only a PREPAID wallet is credited with money (top-up, voucher, recharge): a POSTPAID account's
 * charges accrue on what it owes (UNBILLED_RECEIVABLE) and it pays its invoices; money parked on its
 * wallet would lower nothing it owes, raise nothing it may spend and reach no invoice. Refused
 * before anything moves. (An agent's goodwill credit on a postpaid account is adjustBalance.)
 */
export function requirePrepaid(wallet: Pick<WalletRow, 'billing_account_id' | 'payment_mode'>, field = 'input.billingAccountId'): void {
  if (wallet.payment_mode === 'PREPAID') return;
  throw new DomainError(
    'WALLET_NOT_PREPAID',
    `Billing account ${wallet.billing_account_id} is ${wallet.payment_mode}: it has no balance to top up; it pays its invoices (record the money as a payment on its invoice in invoicing, recordPayment)`,
    { field },
    'BAD_USER_INPUT',
  );
}

/**
 * Credits a wallet (TM Forum TopupBalance) from a funding source: the payment clearing account
 * (card recharge, bank transfer) or voucher clearing. One ledger transaction per idempotency key of
 * the billing account (`<kind>@<account>:<key>`; another account's use of the key is not this one's;
 * a credit written before keys were scoped, `<kind>:<key>`, still answers its account's retries).
 * The same transaction then pays the account's due one-off charges (see one-off-charges.ts).
 * A CLOSED wallet is refused WALLET_CLOSED, unless `untilSettled` (money the customer sent before
 * the close, confirmBankTransfer): then only a settled one is refused, WALLET_SETTLED.
 */
export async function creditWallet(sql: Sql, c: TopupBalanceCommand, source: { kind: 'TOPUP' | 'VOUCHER'; contra: AccountKind; channel: string; untilSettled?: boolean }): Promise<TopupResult> {
  checkKey(c.idempotencyKey);
  const amount = positiveAmount(c.amount?.amount);
  if (!isCurrencyCode(c.amount?.currency)) throw badInput('input.amount.currency', `"${c.amount?.currency}" is not a supported currency`, 'CURRENCY_INVALID');
  const hash = requestHash({ kind: source.kind, billingAccountId: c.billingAccountId, amount: fmt(amount), currency: c.amount.currency, reference: c.reference ?? null });
  const wallet = await requireWallet(sql, c.billingAccountId, c.amount.currency);
  const key = scopedCallerKey(source.kind, wallet.billing_account_id, c.idempotencyKey);
  await lockIdempotencyKey(sql, key);
  const existing = await findCallerTransaction(sql, source.kind, wallet.billing_account_id, c.idempotencyKey);
  if (existing) return { ...(replayOrConflict(existing, hash).outcome as TopupResult), createdAt: existing.created_at, created: false };
  requirePrepaid(wallet);
  // A closed account's wallet takes no money (a credit made before the close is answered above),
  // except, until it is settled, a bank transfer started before the close (confirmBankTransfer).
  if (!source.untilSettled) requireOpen(wallet);
  else if (wallet.settled_at) throw conflict(WALLET_SETTLED, walletSettledMessage(wallet.billing_account_id, wallet.currency, wallet.closed_at, wallet.settled_at), { field: 'input.billingAccountId', billingAccountId: wallet.billing_account_id });
  const result: Omit<TopupResult, 'id' | 'createdAt' | 'created'> = {
    walletId: wallet.id,
    billingAccountId: c.billingAccountId,
    amount: fmt(amount),
    currency: wallet.currency,
    reference: c.reference ?? null,
    channel: source.channel,
  };
  const tx = {
    idempotencyKey: key,
    kind: source.kind,
    billingAccountId: c.billingAccountId,
    requestHash: hash,
    reference: c.reference ?? null,
    entries: [
      { accountId: wallet.id, unit: wallet.currency, amount },
      { accountId: accountId(c.billingAccountId, source.contra, wallet.currency), unit: wallet.currency, amount: amount.negated() },
    ],
  };
  const id = newTxId();
  const outcome = { ...result, id };
  await postTransactions(sql, [{ ...tx, id, outcome }], c.now);
  // What the balance owes comes first: due one-off charges now, then bundles waiting for their fee.
  const before = await creditEffectsBefore(sql, wallet);
  await settleAfterCredit(sql, wallet.billing_account_id, wallet.currency, c.now);
  // The event says the balance the customer has once everything this credit set off is on the ledger (same
  // transaction, wallet lock held): the due charges paid and a budget's replenishment those took it to (TOPUP_CONFIRMED).
  const data: TopupBalanceData = { ...outcome, ...(await creditEffectsAfter(sql, wallet, before)) };
  await insertOutbox(sql, [eventRow('balanceTopup', wallet.id, [id], c.now, data)]);
  return { ...outcome, createdAt: c.now, created: true };
}

interface CreditEffectsBefore {
  dueIds: string[];
  replenishments: number | null;
}

/**
 * The wallet's unsettled due charges the credit may pay and its budget's replenishment count, before
 * settleAfterCredit. Not one whose key a charge already decided: settled by that decision, not paid by
 * this credit (closeDueChargesDecided), so not in `duePaid`.
 */
async function creditEffectsBefore(sql: Sql, wallet: WalletRow): Promise<CreditEffectsBefore> {
  const due = await sql.query<{ id: string }>(
    `select d.id from due_charge d where d.billing_account_id = $1 and d.currency = $2 and d.settled_at is null
       and ${DUE_CHARGE_KEY_FREE}`,
    [wallet.billing_account_id, wallet.currency],
  );
  const [budget] = await sql.query<{ replenishments: number }>(`select replenishments from budget where wallet_id = $1`, [wallet.id]);
  return { dueIds: due.map((d) => d.id), replenishments: budget ? Number(budget.replenishments) : null };
}

/**
 * What settleAfterCredit did since `before`: the due charges it paid (the balance's, and those a budget's
 * replenishment paid, budget.ts), what the budget was replenished with, and the ledger balance after all of it.
 */
async function creditEffectsAfter(sql: Sql, wallet: WalletRow, before: CreditEffectsBefore): Promise<Pick<TopupBalanceData, 'balance' | 'duePaid' | 'replenished'>> {
  const [paid] = before.dueIds.length
    ? await sql.query<{ total: string | null }>(`select sum(amount)::text as total from due_charge where id = any($1::text[]) and settled_at is not null`, [before.dueIds])
    : [];
  const [replenished] = before.replenishments === null
    ? []
    : await sql.query<{ total: string | null }>(`select sum(r.amount)::text as total from budget_replenishment r join budget b on b.id = r.budget_id where b.wallet_id = $1 and r.sequence > $2`, [wallet.id, before.replenishments]);
  const [account] = await sql.query<{ balance: string }>(`select balance::text as balance from ledger_account where id = $1`, [wallet.id]);
  return {
    balance: { amount: fmt(new Decimal(account!.balance)), currency: wallet.currency },
    duePaid: fmt(new Decimal(paid?.total ?? 0)),
    replenished: fmt(new Decimal(replenished?.total ?? 0)),
  };
}

/**
 * A top-up by staff (and the Recharge workflow's credit): entered money, no finer than the
 * currency's minor unit. (creditWallet also credits vouchers and bank transfers, whose amounts were
 * checked when they were issued or requested.)
 */
export async function topupBalance(sql: Sql, c: TopupBalanceCommand): Promise<TopupResult> {
  enteredAmount(c.amount);
  return creditWallet(sql, c, { kind: 'TOPUP', contra: 'PAYMENTS_CLEARING', channel: 'PAYMENT' });
}

export const ZERO_DEC = new Decimal(0);
