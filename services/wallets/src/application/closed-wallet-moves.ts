import { Decimal, minorUnits, type ChargeRefusedData, type WalletCreditOwedData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { eventRow, insertOutbox } from '../persistence/sql';
import { fmt } from '../domain/charging';
import { accountId, chargeKey, newTxId, postTransactions } from './ledger';
import { WALLET_BALANCE_FINAL, WALLET_CLOSED, WALLET_SETTLED, walletClosedMessage, walletFinalMessage, type WalletRow } from './wallets';

/**
 * Money that reaches a closed wallet late from subscribers (a one-off charge or credit, a bundle's
 * unused-days refund), judged as charging judges late usage (apply-charges.ts) until the settlement.
 */

/** Why a late charge is not taken from a closed wallet (its ledger row's `refused`, the consumer's metric label). */
export type LateChargeRefusal = typeof WALLET_CLOSED | typeof WALLET_BALANCE_FINAL | typeof WALLET_SETTLED;

export function isLateChargeRefusal(outcome: string): outcome is LateChargeRefusal {
  return outcome === WALLET_CLOSED || outcome === WALLET_BALANCE_FINAL || outcome === WALLET_SETTLED;
}

/** Ledger kind of a credit owed to the customer that arrived after its wallet's settlement. */
export const CREDIT_OWED = 'CREDIT_OWED';

/**
 * Whether a charge incurred at `incurredAt` arriving at `now` is refused by a closed wallet, and why:
 * settled (its final balance was handed to finance: taking it would make a paid-out wallet owe),
 * incurred at or after closedAt (as usage then), or arriving at or after finalAt. Null: an open wallet,
 * or a charge from before the close inside the grace, which is taken as late usage is.
 */
export function lateChargeRefusal(wallet: WalletRow, incurredAt: string, now: Date): LateChargeRefusal | null {
  if (wallet.status !== 'CLOSED' || wallet.closed_at === null) return null;
  if (wallet.settled_at !== null) return WALLET_SETTLED;
  // An unreadable date is NaN: not before the close, so refused as usage is.
  if (!(Date.parse(incurredAt) < new Date(wallet.closed_at).getTime())) return WALLET_CLOSED;
  if (wallet.final_at !== null && now.getTime() >= new Date(wallet.final_at).getTime()) return WALLET_BALANCE_FINAL;
  return null;
}

export function lateChargeMessage(wallet: WalletRow, refusal: LateChargeRefusal): string {
  if (refusal === WALLET_CLOSED) return walletClosedMessage(wallet.billing_account_id, wallet.currency, wallet.closed_at);
  if (refusal === WALLET_BALANCE_FINAL) return walletFinalMessage(wallet.billing_account_id, wallet.currency, wallet.closed_at, wallet.final_at);
  const settled = wallet.settled_at ? new Date(wallet.settled_at).toISOString() : 'an earlier date';
  return `The ${wallet.currency} wallet of billing account ${wallet.billing_account_id} was settled at ${settled}: its final balance went to finance for payout, so nothing more is taken from it`;
}

/** A one-off charge a closed wallet will not collect (its own data, as subscribers sent it). */
export interface UncollectedCharge {
  chargeId: string;
  lineId: string | null;
  reason: string;
  description: string | null;
  amount: Decimal;
  /** When it was left due for want of balance; null: refused as it arrived. */
  dueSince: Date | null;
  /**
   * What the wallet paid towards it at its settlement (a due charge netted against the balance:
   * settleAccountWallets, domain/settlement-netting.ts); absent: nothing, refused whole.
   */
  collected?: Decimal;
}

/**
 * A refused charge keeps its decision under its own key (no entries, as charging's DENIED rows): a
 * redelivery finds the key and takes nothing, and the refusal stays on the ledger. A due charge the
 * settlement netted in part (`collected`) keeps the part taken on the same row (− wallet, + revenue)
 * and only the rest is refused. Nobody else would ever learn of the money refused:
 * `billing.wallets.charge.refused` hands it to finance (its `amount`: what is left to bill; invoicing
 * bills it to the closed account, or it is written off), once, as the key is written once. Returns
 * the row's id. The caller holds the wallet lock and has checked the key is unused.
 */
export async function recordRefusedCharge(sql: Sql, wallet: WalletRow, c: UncollectedCharge, refusal: LateChargeRefusal, now: Date): Promise<string> {
  const txId = newTxId();
  const collected = c.collected ?? new Decimal(0);
  const rest = c.amount.minus(collected);
  const digits = minorUnits(wallet.currency);
  const refusedBecause = lateChargeMessage(wallet, refusal) + (collected.greaterThan(0)
    ? `; ${collected.toFixed(digits)} ${wallet.currency} of the charge was taken from the balance at the settlement, ${rest.toFixed(digits)} ${wallet.currency} is left to bill`
    : '');
  await postTransactions(sql, [{
    id: txId, idempotencyKey: chargeKey(c.chargeId), kind: 'ONE_OFF_CHARGE', billingAccountId: wallet.billing_account_id, reference: c.lineId,
    outcome: {
      chargeId: c.chargeId, reason: c.reason, amount: fmt(c.amount), currency: wallet.currency, refused: refusal, refusedBecause, ...(c.dueSince ? { dueSince: c.dueSince.toISOString() } : {}),
      ...(c.collected ? { collected: fmt(collected), refusedAmount: fmt(rest) } : {}),
    },
    entries: collected.greaterThan(0)
      ? [
          { accountId: wallet.id, unit: wallet.currency, amount: collected.negated() },
          { accountId: accountId(wallet.billing_account_id, 'REVENUE', wallet.currency), unit: wallet.currency, amount: collected },
        ]
      : [],
  }], now);
  const data: ChargeRefusedData = {
    chargeId: c.chargeId, billingAccountId: wallet.billing_account_id, walletId: wallet.id, lineId: c.lineId, reason: c.reason, description: c.description,
    amount: { amount: fmt(rest), currency: wallet.currency },
    chargeAmount: { amount: fmt(c.amount), currency: wallet.currency }, collected: { amount: fmt(collected), currency: wallet.currency },
    refusal, refusedBecause,
    dueSince: c.dueSince ? c.dueSince.toISOString() : null, transactionId: txId,
    closedAt: new Date(wallet.closed_at!).toISOString(), settledAt: wallet.settled_at ? new Date(wallet.settled_at).toISOString() : null, refusedAt: now.toISOString(),
  };
  await insertOutbox(sql, [eventRow('chargeRefused', wallet.billing_account_id, [chargeKey(c.chargeId), 'refused'], now, data)]);
  return txId;
}

/**
 * A due charge the settlement's netting covered whole (domain/settlement-netting.ts): taken from
 * the balance under its key as a top-up would have paid it (− wallet, + revenue), nothing refused,
 * nothing told (wallet.settled carries the balance after it). Returns the row's id. The caller
 * holds the wallet lock and has checked the key is unused.
 */
export async function recordDueChargeCollected(sql: Sql, wallet: WalletRow, c: { chargeId: string; lineId: string | null; reason: string; amount: Decimal; dueSince: Date }, now: Date): Promise<string> {
  const txId = newTxId();
  await postTransactions(sql, [{
    id: txId, idempotencyKey: chargeKey(c.chargeId), kind: 'ONE_OFF_CHARGE', billingAccountId: wallet.billing_account_id, reference: c.lineId,
    outcome: { chargeId: c.chargeId, reason: c.reason, amount: fmt(c.amount), currency: wallet.currency, dueSince: c.dueSince.toISOString(), collectedAtSettlement: true },
    entries: [
      { accountId: wallet.id, unit: wallet.currency, amount: c.amount.negated() },
      { accountId: accountId(wallet.billing_account_id, 'REVENUE', wallet.currency), unit: wallet.currency, amount: c.amount },
    ],
  }], now);
  return txId;
}

/**
 * A credit owed to the customer that reached a settled wallet. Not spent and not netted against
 * anything (no due charge is paid from it, no balance event): recorded as owed where a returned
 * payout goes, on the settled wallet (− revenue, + wallet, kind CREDIT_OWED), and
 * `billing.wallets.wallet.creditowed` tells finance to pay it out with payOutWalletBalance.
 * The caller holds the wallet lock and has checked the key is unused.
 */
export async function recordOwedCredit(
  sql: Sql,
  wallet: WalletRow,
  c: { key: string; source: WalletCreditOwedData['source']; sourceId: string; reason: string; reference: string | null; amount: Decimal },
  now: Date,
): Promise<void> {
  const txId = newTxId();
  await postTransactions(sql, [{
    id: txId, idempotencyKey: c.key, kind: CREDIT_OWED, billingAccountId: wallet.billing_account_id, reference: c.reference,
    outcome: { source: c.source, sourceId: c.sourceId, reason: c.reason, amount: fmt(c.amount), currency: wallet.currency },
    entries: [
      { accountId: wallet.id, unit: wallet.currency, amount: c.amount },
      { accountId: accountId(wallet.billing_account_id, 'REVENUE', wallet.currency), unit: wallet.currency, amount: c.amount.negated() },
    ],
  }], now);
  const data: WalletCreditOwedData = {
    walletId: wallet.id, billingAccountId: wallet.billing_account_id, source: c.source, sourceId: c.sourceId, reason: c.reason,
    amount: { amount: fmt(c.amount), currency: wallet.currency },
    balanceAfter: { amount: fmt(new Decimal(wallet.balance).plus(c.amount)), currency: wallet.currency },
    transactionId: txId, settledAt: new Date(wallet.settled_at!).toISOString(), recordedAt: now.toISOString(),
  };
  await insertOutbox(sql, [eventRow('walletCreditOwed', wallet.billing_account_id, [c.key, 'owed'], now, data)]);
}
