import { badInput, dec, notFound } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import type { BillingAccount } from '../persistence/entities';
import { assertAutopayToken } from './open-billing-account';
import { assertAccountOpen, lockAccount } from './close-billing-account';
import { assertCreditLimit } from '../domain/validation';
import { SOURCE } from './events';

/** Fields left out stay as they are; an explicit null removes (the autopay token) or lifts (the credit limit). */
export interface UpdateBillingAccountCommand {
  billingAccountId: string;
  creditLimit?: string | null;
  autopayToken?: string | null;
  now: Date;
}

export type BillingAccountChange = 'creditLimit' | 'autopay';

/**
 * Changes an account's credit limit or autopay token and tells the other services
 * (`billingaccount.changed`: wallets applies the credit limit to charging, invoicing the autopay
 * flag to collections). Like `billingaccount.created`, the event says only whether a token is on
 * file, never the token. Setting what is already there changes nothing and emits nothing. A
 * closed account is refused CONFLICT `ACCOUNT_CLOSED` (nothing changes, no event), except removing
 * its autopay token alone: a customer who left may have their stored card token deleted.
 */
export async function updateBillingAccount(em: Em, c: UpdateBillingAccountCommand): Promise<{ account: BillingAccount; changed: BillingAccountChange[] }> {
  // Locked like closeBillingAccount locks it: a change and a close of one account happen one after the other.
  const account = await lockAccount(em, c.billingAccountId, 'write');
  if (!account) throw notFound('BillingAccount', c.billingAccountId, 'input.billingAccountId');
  // A customer who left may still have their card token removed (the one change a closed account takes).
  const onlyRemovesToken = c.creditLimit === undefined && c.autopayToken === null;
  if (!onlyRemovesToken) assertAccountOpen(account);
  const changed: BillingAccountChange[] = [];
  if (c.creditLimit !== undefined) {
    if (c.creditLimit !== null) assertCreditLimit(c.creditLimit, account.currency);
    if (c.creditLimit !== null && account.paymentMode === 'PREPAID') throw badInput('input.creditLimit', 'A prepaid account has no credit limit', 'CREDIT_LIMIT_NOT_ALLOWED');
    const before = account.creditLimit == null ? null : dec(account.creditLimit);
    const after = c.creditLimit === null ? null : dec(c.creditLimit);
    if ((before === null) !== (after === null) || (before && after && !before.eq(after))) {
      account.creditLimit = after === null ? null : after.toFixed();
      changed.push('creditLimit');
    }
  }
  if (c.autopayToken !== undefined) {
    const token = c.autopayToken === null ? null : assertAutopayToken(c.autopayToken);
    // A new token is a change for collections even when autopay was already on (the next charge uses it).
    if (token !== (account.autopayToken ?? null)) {
      account.autopayToken = token;
      changed.push('autopay');
    }
  }
  if (changed.length === 0) return { account, changed };
  enqueueEvent(em, 'billingAccountChanged', {
    source: SOURCE,
    subject: account.id,
    key: [account.id, c.now.toISOString(), ...changed, account.creditLimit ?? '', String(Boolean(account.autopayToken))],
    time: c.now,
    data: {
      billingAccountId: account.id,
      paymentMode: account.paymentMode,
      currency: account.currency,
      creditLimit: account.creditLimit == null ? null : dec(account.creditLimit).toFixed(),
      autopay: Boolean(account.autopayToken),
      changed,
    },
  });
  await em.flush();
  return { account, changed };
}
