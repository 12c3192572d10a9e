import { badInput, conflict } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { closeLedgerKey, lockIdempotencyKey } from './ledger';
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
 * Settles what a top-up idempotency key stands for, for a caller about to give the money back
 * where it came from (the Recharge workflow, before it refunds a card whose credit wallets
 * refused): the top-up made under the key if one was, else null, and then none ever will be.
 *
 * A key is closed with a row of its own in `ledger_transaction` under the top-up's unique key
 * (`TOPUP:<key>`, kind TOPUP_KEY_CLOSED, no entries). A top-up still on its way under that key (an
 * earlier attempt whose request outlived its answer) then finds the row and is refused as
 * IDEMPOTENCY_KEY_REUSED (both hold the key's lock), or fails on the unique key: it can never land after the refund.
 * A top-up that is committing while the key is closed makes the insert wait for it, and is then
 * answered. Same key again: the same answer.
 */
export async function closeTopupKey(sql: Sql, c: CloseTopupKeyCommand): Promise<TopupResult | null> {
  checkKey(c.idempotencyKey);
  if (typeof c.billingAccountId !== 'string' || c.billingAccountId.trim() === '') throw badInput('input.billingAccountId', 'A billing account id is required', 'BILLING_ACCOUNT_ID_REQUIRED');
  const key = `TOPUP:${c.idempotencyKey}`;
  // The top-up's own key lock (creditWallet): a top-up between its lookup and its insert finishes
  // first and is answered; one that comes after finds the closed key, IDEMPOTENCY_KEY_REUSED.
  await lockIdempotencyKey(sql, key);
  await closeLedgerKey(sql, key, TOPUP_KEY_CLOSED, c.billingAccountId, c.now);
  const [row] = await sql.query<{ kind: string; billing_account_id: string | null; outcome: Omit<TopupResult, 'createdAt' | 'created'> | null; created_at: Date }>(
    `select kind, billing_account_id, outcome, created_at from ledger_transaction where idempotency_key = $1`,
    [key],
  );
  if (!row || row.billing_account_id !== c.billingAccountId) {
    throw conflict('IDEMPOTENCY_KEY_REUSED', 'This idempotency key was used for a top-up of another billing account', { field: 'input.idempotencyKey' });
  }
  if (row.kind === TOPUP_KEY_CLOSED) return null;
  return { ...row.outcome!, createdAt: row.created_at, created: false };
}
