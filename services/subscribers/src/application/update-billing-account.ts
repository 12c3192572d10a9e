import { badInput, dec, newId, notFound, type Caller } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { BillingAccount, BillingAccountPartnerChange } from '../persistence/entities';
import { assertAutopayToken, assertPartnerId } from './open-billing-account';
import { assertAccountOpen, lockAccount } from './close-billing-account';
import { assertCreditLimit } from '../domain/validation';
import { SOURCE } from './events';

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
  /** Who asks (for the partner's audit trail). */
  by?: Pick<Caller, 'subject' | 'role'>;
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
  const followers: BillingAccount[] = [];
  if (c.partnerId !== undefined) {
    const partnerId = c.partnerId === null ? null : assertPartnerId(c.partnerId);
    // A hierarchy is one partner's customer (as at open): a child's partner is its parent's, changed there.
    if (parent && partnerId !== (parent.partnerId ?? null)) {
      throw badInput('input.partnerId', `Account ${parent.id} is ${parent.partnerId ? `partner ${parent.partnerId}'s` : "no partner's"}; a child account is its parent's partner's (change the parent's: its children follow)`, 'PARENT_ACCOUNT_OTHER_PARTNER');
    }
    if (partnerId !== (account.partnerId ?? null)) {
      const by = c.by ?? { subject: 'unknown', role: 'SYSTEM' };
      assignPartner(em, account, partnerId, by, c.now, null);
      changed.push('partnerId');
      // Its children, and theirs, follow (closed ones too: the hierarchy stays one partner's), each announced.
      for (const child of await descendants(em, account.id)) {
        if ((child.partnerId ?? null) === partnerId) continue;
        assignPartner(em, child, partnerId, by, c.now, account.id);
        followers.push(child);
      }
    }
  }
  if (changed.length === 0) return { account, changed };
  announce(em, account, changed, c.now);
  for (const child of followers) announce(em, child, ['partnerId'], c.now);
  await em.flush();
  return { account, changed };
}

/** The account's partner from now on: one more version, and a row of its audit trail. */
function assignPartner(em: Em, account: BillingAccount, partnerId: string | null, by: Pick<Caller, 'subject' | 'role'>, now: Date, viaAccountId: string | null): void {
  const previous = account.partnerId ?? null;
  account.partnerId = partnerId;
  account.partnerVersion = (account.partnerVersion ?? 0) + 1;
  em.create(BillingAccountPartnerChange, {
    id: newId('event'),
    billingAccountId: account.id,
    partnerVersion: account.partnerVersion,
    previousPartnerId: previous,
    partnerId,
    changedBy: by.subject.slice(0, 200),
    changedByRole: by.role,
    changedAt: now,
    viaAccountId,
  });
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
 * whatever order the events come in (an older one, redelivered, never takes a newer one back).
 */
function announce(em: Em, account: BillingAccount, changed: BillingAccountChange[], now: Date): void {
  enqueueEvent(em, 'billingAccountChanged', {
    source: SOURCE,
    subject: account.id,
    key: [account.id, now.toISOString(), ...changed, account.creditLimit ?? '', String(Boolean(account.autopayToken)), `partner:${account.partnerVersion ?? 0}`],
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
