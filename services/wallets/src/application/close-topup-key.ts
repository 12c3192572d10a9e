import { badInput } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { closeLedgerKey, findCallerTransaction, lockIdempotencyKey, scopedCallerKey } from './ledger';
import { checkKey, type TopupResult } from './topup-balance';

/** Kind (and request hash) of the row that closes a top-up key: no entries, no money. */
export const TOPUP_KEY_CLOSED = 'TOPUP_KEY_CLOSED';

export interface CloseTopupKeyCommand {
  billingAccountId: string;
  /** The key the top-up was (or would have been) made with (`topupBalance`'s idempotencyKey). */
  idempotencyKey: string;
  now: Date;
}

/**
 * Settles what a top-up idempotency key of a billing account stands for, for a caller about to give
 * the money back where it came from (the Recharge workflow, before it refunds a card whose credit
 * wallets refused): the top-up made under the key if one was, else null, and then none ever will be.
 *
 * A key is closed with a row of its own in `ledger_transaction` under the top-up's unique key
 * (`TOPUP@<account>:<key>`, kind TOPUP_KEY_CLOSED, no entries). A top-up still on its way under that key (an
 * earlier attempt whose request outlived its answer) then finds the row and is refused as
 * IDEMPOTENCY_KEY_REUSED (both hold the key's lock), or fails on the unique key: it can never land after the refund.
 * A top-up that is committing while the key is closed makes the insert wait for it, and is then
 * answered. Same key again: the same answer. The key is the account's: another account's top-up under
 * it is neither answered nor touched. A top-up the account made before keys were scoped (`TOPUP:<key>`)
 * is answered, and nothing is closed.
 */
export async function closeTopupKey(sql: Sql, c: CloseTopupKeyCommand): Promise<TopupResult | null> {
  checkKey(c.idempotencyKey);
  if (typeof c.billingAccountId !== 'string' || c.billingAccountId.trim() === '') throw badInput('input.billingAccountId', 'A billing account id is required', 'BILLING_ACCOUNT_ID_REQUIRED');
  const key = scopedCallerKey('TOPUP', c.billingAccountId, c.idempotencyKey);
  // The top-up's own key lock (creditWallet): a top-up between its lookup and its insert finishes
  // first and is answered; one that comes after finds the closed key, IDEMPOTENCY_KEY_REUSED.
  await lockIdempotencyKey(sql, key);
  let row = await findCallerTransaction(sql, 'TOPUP', c.billingAccountId, c.idempotencyKey);
  if (!row) {
    await closeLedgerKey(sql, key, TOPUP_KEY_CLOSED, c.billingAccountId, c.now);
    row = await findCallerTransaction(sql, 'TOPUP', c.billingAccountId, c.idempotencyKey);
  }
  if (!row) throw new Error(`top-up key ${key} was neither found nor closed`);
  if (row.kind === TOPUP_KEY_CLOSED) return null;
  return { ...(row.outcome as Omit<TopupResult, 'createdAt' | 'created'>), createdAt: row.created_at, created: false };
}
