import type { Decimal } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { subMinorResidue } from '../domain/entered-money';
import { accountId, ensureAccounts, findTransaction, type NewTransaction } from './ledger';
import type { WalletRow } from './wallets';

/** The ledger transaction kind that moves a settled wallet's sub-minor residue to its account's ROUNDING account. */
export const ROUNDING_WRITE_OFF = 'ROUNDING_WRITE_OFF';

/** Its idempotency key: the wallet and its settlement (a wallet settles once, and is written off at most once). */
export const roundingWriteOffKey = (walletId: string, settledAt: Date | string): string => `${ROUNDING_WRITE_OFF}:${walletId}:${new Date(settledAt).toISOString()}`;

/**
 * A settled wallet left holding less than one minor unit of its currency (a payout of whole minor
 * units took 9.97 of 9.977 EUR; or it was settled at 0.007, or owing 0.004) holds money nobody can
 * move: a payout is whole minor units and a settled wallet takes no adjustment. Real billing
 * writes such a residue off to a rounding account, and so does this: the transaction (kind
 * ROUNDING_WRITE_OFF, reference = the wallet: − residue on the wallet, + residue on the account's
 * `ROUNDING` account; a negative residue the other way) that the caller posts in the same database
 * transaction, and statement, as the payout or the settlement that left it, so the wallet ends at
 * exactly 0 and the ledger still sums to zero. Null when `balance` (the wallet's balance once the
 * caller's own movement is made) is zero or a minor unit or more either way (paid out, or owed, in
 * whole minor units), or when the wallet was written off already (cannot happen: after it the wallet
 * is at 0 and only whole minor units move it; the invariants would report the residue).
 * The caller holds the wallet's lock.
 */
export async function roundingWriteOff(sql: Sql, wallet: Pick<WalletRow, 'id' | 'billing_account_id' | 'currency'>, settledAt: Date, balance: Decimal, now: Date): Promise<{ tx: NewTransaction; residue: Decimal } | null> {
  const residue = subMinorResidue(balance, wallet.currency);
  if (!residue) return null;
  const key = roundingWriteOffKey(wallet.id, settledAt);
  if (await findTransaction(sql, key)) return null;
  // Made when first needed (as BUDGET_RECEIVABLE): most wallets never write anything off.
  const rounding = accountId(wallet.billing_account_id, 'ROUNDING', wallet.currency);
  await ensureAccounts(sql, wallet.billing_account_id, [{ id: rounding, kind: 'ROUNDING', unit: wallet.currency }], now);
  const tx: NewTransaction = { idempotencyKey: key, kind: ROUNDING_WRITE_OFF, billingAccountId: wallet.billing_account_id, reference: wallet.id, entries: [
    { accountId: wallet.id, unit: wallet.currency, amount: residue.negated() },
    { accountId: rounding, unit: wallet.currency, amount: residue },
  ] };
  return { tx, residue };
}
