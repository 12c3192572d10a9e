import { badInput, dec, notFound } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { BillingAccount } from '../persistence/entities';
import { assertAutopayToken, assertPartnerId } from './open-billing-account';
import { assertAccountOpen, lockAccount } from './close-billing-account';
import { assertCreditLimit } from '../domain/validation';
import { autopayValue, creditLimitValue, type FieldChange } from '../domain/billing-account-changes';
import { SOURCE } from './events';
import { changeRequest, recordAccountChanges, type ChangeActor, type ChangeRequest } from './billing-account-changes';

/** Fields left out stay as they are; an explicit null removes (the autopay token) or lifts (the credit limit). */
export interface UpdateBillingAccountCommand {
  billingAccountId: string;
  creditLimit?: string | null;
  autopayToken?: string | null;
  /**
   * The partner (an MVNO, as its PARTNER tokens name it) whose customer the account is from now on; null: none (the
   * operator's own). Staff only (the resolver checks). A child account's is its parent's: changing a parent's
   * changes its children's (and theirs); a child given another one than its parent's is refused.
   */
  partnerId?: string | null;
  /** Who asks (for the audit trail, `billing_account_change`). */
  by?: ChangeActor;
  now: Date;
}

export type BillingAccountChange = 'creditLimit' | 'autopay' | 'partnerId';

/**
 * Changes an account's credit limit, autopay token or partner and tells the other services
 * (`billingaccount.changed`: wallets applies the credit limit to charging, invoicing the autopay
 * flag to collections, usage the partner to the lines a partner may charge online). Like
 * `billingaccount.created`, the event says only whether a token is on file, never the token.
 * Setting what is already there changes nothing and emits nothing. A closed account is refused
 * CONFLICT `ACCOUNT_CLOSED` (nothing changes, no event), except removing its autopay token alone:
 * a customer who left may have their stored card token deleted.
 *
 * The partner (2027-01-29): validated as at open (`PARTNER_ID_INVALID`); a child account's is its
 * parent's (another: `PARENT_ACCOUNT_OTHER_PARTNER`); a parent's new partner is its descendants'
 * too, each with a version, an audit row (`viaAccountId` the account changed) and an event of its own.
 *
 * Audited (2027-01-31): each field changed is a row of the account's trail (`recordAccountChanges`: old and new value,
 * `by`, `now`; the autopay token by its fingerprint only), written with the change; a no-op writes none. The event's
 * key carries the trail's number of the change, so two changes at one instant to the same terms are two events.
 */
export async function updateBillingAccount(em: Em, c: UpdateBillingAccountCommand): Promise<{ account: BillingAccount; changed: BillingAccountChange[] }> {
  // A partner change reads the parent's partner: its parent is locked first (share), as openBillingAccount locks a
  // child's parent, so every lock of a hierarchy is taken top-down (a parent's change locks its children after it).
  let parent: BillingAccount | null = null;
  if (c.partnerId !== undefined) {
    const seen = await em.findOne(BillingAccount, { id: c.billingAccountId });
    if (seen?.parentAccountId) parent = await lockAccount(em, seen.parentAccountId, 'share');
  }
  // Locked like closeBillingAccount locks it: a change and a close of one account happen one after the other.
  const account = await lockAccount(em, c.billingAccountId, 'write');
  if (!account) throw notFound('BillingAccount', c.billingAccountId, 'input.billingAccountId');
  // A customer who left may still have their card token removed (the one change a closed account takes).
  const onlyRemovesToken = c.creditLimit === undefined && c.partnerId === undefined && c.autopayToken === null;
  if (!onlyRemovesToken) assertAccountOpen(account);
  const changed: BillingAccountChange[] = [];
  const request = changeRequest(c.by, c.now);
  const audit: FieldChange[] = [];
  if (c.creditLimit !== undefined) {
    if (c.creditLimit !== null) assertCreditLimit(c.creditLimit, account.currency);
    if (c.creditLimit !== null && account.paymentMode === 'PREPAID') throw badInput('input.creditLimit', 'A prepaid account has no credit limit', 'CREDIT_LIMIT_NOT_ALLOWED');
    const before = account.creditLimit == null ? null : dec(account.creditLimit);
    const after = c.creditLimit === null ? null : dec(c.creditLimit);
    if ((before === null) !== (after === null) || (before && after && !before.eq(after))) {
      account.creditLimit = after === null ? null : after.toFixed();
      changed.push('creditLimit');
      audit.push({ field: 'CREDIT_LIMIT', oldValue: creditLimitValue(before?.toFixed()), newValue: creditLimitValue(account.creditLimit) });
    }
  }
  if (c.autopayToken !== undefined) {
    const token = c.autopayToken === null ? null : assertAutopayToken(c.autopayToken);
    // A new token is a change for collections even when autopay was already on (the next charge uses it).
    if (token !== (account.autopayToken ?? null)) {
      // The trail keeps the token's fingerprint, never the token.
      audit.push({ field: 'AUTOPAY', oldValue: autopayValue(account.autopayToken), newValue: autopayValue(token) });
      account.autopayToken = token;
      changed.push('autopay');
    }
  }
  const followers: { child: BillingAccount; change: FieldChange }[] = [];
  if (c.partnerId !== undefined) {
    const partnerId = c.partnerId === null ? null : assertPartnerId(c.partnerId);
    // A hierarchy is one partner's customer (as at open): a child's partner is its parent's, changed there.
    if (parent && partnerId !== (parent.partnerId ?? null)) {
      throw badInput('input.partnerId', `Account ${parent.id} is ${parent.partnerId ? `partner ${parent.partnerId}'s` : "no partner's"}; a child account is its parent's partner's (change the parent's: its children follow)`, 'PARENT_ACCOUNT_OTHER_PARTNER');
    }
    if (partnerId !== (account.partnerId ?? null)) {
      audit.push(assignPartner(account, partnerId, null));
      changed.push('partnerId');
      // Its children, and theirs, follow (closed ones too: the hierarchy stays one partner's), each announced.
      for (const child of await descendants(em, account.id)) {
        if ((child.partnerId ?? null) === partnerId) continue;
        followers.push({ child, change: assignPartner(child, partnerId, account.id) });
      }
    }
  }
  if (changed.length === 0) return { account, changed };
  announce(em, account, changed, c.now, await recordAccountChanges(em, account.id, audit, request));
  for (const { child, change } of followers) await follow(em, child, change, request);
  await em.flush();
  return { account, changed };
}

/** A child account following its parent's partner: a row of its own trail (same request) and its own event. */
async function follow(em: Em, child: BillingAccount, change: FieldChange, request: ChangeRequest): Promise<void> {
  announce(em, child, ['partnerId'], request.at, await recordAccountChanges(em, child.id, [change], request));
}

/** The account's partner from now on: one more version; the change, for its audit trail. */
function assignPartner(account: BillingAccount, partnerId: string | null, viaAccountId: string | null): FieldChange {
  const previous = account.partnerId ?? null;
  account.partnerId = partnerId;
  account.partnerVersion = (account.partnerVersion ?? 0) + 1;
  return { field: 'PARTNER', oldValue: previous, newValue: partnerId, version: account.partnerVersion, viaAccountId };
}

/** The account's children, theirs, and so on, each read under a write lock (in id order, level by level). */
async function descendants(em: Em, accountId: string): Promise<BillingAccount[]> {
  const out: BillingAccount[] = [];
  let level = [accountId];
  while (level.length > 0) {
    const children = await em.find(BillingAccount, { parentAccountId: { $in: level } }, { orderBy: { id: 'asc' } });
    const locked: BillingAccount[] = [];
    for (const { id } of children) {
      const child = await lockAccount(em, id, 'write');
      if (child) locked.push(child);
    }
    out.push(...locked);
    level = locked.map((a) => a.id);
  }
  return out;
}

/**
 * billingaccount.changed: the account's terms after the change and which changed. It carries the account's customer
 * and its partner as they are, with the partner's version, so usage (account_owner) keeps the newest assignment
 * whatever order the events come in (an older one, redelivered, never takes a newer one back). Its key ends with the
 * number of the change's last row in the account's trail (`auditSeq`): before, two changes at one instant that left
 * the same terms (a token replaced, removed and put back; a limit raised, lowered and raised again) had one event id,
 * and the third was refused by the outbox (an internal error).
 */
function announce(em: Em, account: BillingAccount, changed: BillingAccountChange[], now: Date, auditSeq: number | null): void {
  enqueueEvent(em, 'billingAccountChanged', {
    source: SOURCE,
    subject: account.id,
    key: [account.id, now.toISOString(), ...changed, account.creditLimit ?? '', String(Boolean(account.autopayToken)), `partner:${account.partnerVersion ?? 0}`, `change:${auditSeq ?? ''}`],
    time: now,
    data: {
      billingAccountId: account.id,
      customerId: account.customerId,
      paymentMode: account.paymentMode,
      currency: account.currency,
      creditLimit: account.creditLimit == null ? null : dec(account.creditLimit).toFixed(),
      autopay: Boolean(account.autopayToken),
      partnerId: account.partnerId ?? null,
      partnerVersion: account.partnerVersion ?? 0,
      changed,
    },
  });
}
