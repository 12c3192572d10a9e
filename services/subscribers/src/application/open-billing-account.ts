import { badInput, DomainError, newId, notFound } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { BillingAccount, Customer } from '../persistence/entities';
import { assertBillCycleDay, assertCreditLimit, assertCurrency, assertMaxLength, assertTimezone } from '../domain/validation';
import { SOURCE } from './events';
import { assertAccountOpen, lockAccount } from './close-billing-account';
import { autopayValue, creditLimitValue, type FieldChange } from '../domain/billing-account-changes';
import { changeRequest, recordAccountChanges, type ChangeActor } from './billing-account-changes';

export interface OpenBillingAccountCommand {
  customerId: string;
  paymentMode: 'PREPAID' | 'POSTPAID';
  currency: string;
  name?: string | null;
  parentAccountId?: string | null;
  billCycleDay?: number | null;
  paymentTermsDays?: number | null;
  timezone?: string | null;
  creditLimit?: string | null;
  autopayToken?: string | null;
  /** The partner (an MVNO, as its PARTNER tokens name it) whose customer the account is; absent: the parent's, or none. Staff only. */
  partnerId?: string | null;
  /** Who asks (for the audit trail). */
  by?: ChangeActor;
  now: Date;
}

/** The longest partner id (events-hub's, usage's account_owner.partner_id). */
const MAX_PARTNER_ID = 100;

/** A partner id as PARTNER tokens carry it: 1-100 characters, no surrounding blanks, no control characters. */
export function assertPartnerId(partnerId: string, field = 'input.partnerId'): string {
  // eslint-disable-next-line no-control-regex
  if (!partnerId.trim() || partnerId !== partnerId.trim() || partnerId.length > MAX_PARTNER_ID || /[\u0000-\u001f\u007f]/.test(partnerId)) {
    throw badInput(field, `partnerId names the partner whose customer the account is, as its PARTNER tokens name it: 1-${MAX_PARTNER_ID} characters, no surrounding blanks or control characters`, 'PARTNER_ID_INVALID');
  }
  return partnerId;
}

/** Autopay stores a payment provider's token, never a card number. */
export function assertAutopayToken(token: string, field = 'input.autopayToken'): string {
  const digits = token.replace(/[\s-]/g, '');
  if (/^\d{12,19}$/.test(digits)) throw badInput(field, 'This looks like a card number; store the payment provider token instead', 'AUTOPAY_TOKEN_IS_CARD_NUMBER');
  if (!/^[A-Za-z0-9_:.-]{8,200}$/.test(token)) throw badInput(field, 'An autopay token is 8-200 letters, digits, _ : . or -', 'AUTOPAY_TOKEN_INVALID');
  return token;
}

/**
 * Opens a billing account. Audited: the account's trail starts with who opened it (STATUS null → OPEN) and the credit
 * terms it was given, each from null (CREDIT_LIMIT, AUTOPAY by the token's fingerprint, PARTNER version 0, from the
 * parent when a child takes its parent's), all one request.
 */
export async function openBillingAccount(em: Em, c: OpenBillingAccountCommand): Promise<BillingAccount> {
  // Check the input before touching the database, so the caller hears about every field it controls.
  const currency = assertCurrency(c.currency);
  // billing_account.name is varchar(200).
  if (c.name) assertMaxLength(c.name.trim(), 200, 'input.name', 'NAME_TOO_LONG');
  const billCycleDay = assertBillCycleDay(c.billCycleDay ?? 1);
  // Omitted (null) means the customer's zone; anything given, "" included, must be a real zone.
  if (c.timezone != null) assertTimezone(c.timezone, 'input.timezone');
  const paymentTermsDays = c.paymentTermsDays ?? 14;
  if (!Number.isInteger(paymentTermsDays) || paymentTermsDays < 0 || paymentTermsDays > 120) throw badInput('input.paymentTermsDays', `Payment terms must be 0 to 120 days, got ${paymentTermsDays}`, 'PAYMENT_TERMS_OUT_OF_RANGE');
  if (c.creditLimit != null) assertCreditLimit(c.creditLimit, currency);
  if (c.creditLimit != null && c.paymentMode === 'PREPAID') throw badInput('input.creditLimit', 'A prepaid account has no credit limit', 'CREDIT_LIMIT_NOT_ALLOWED');
  const autopayToken = c.autopayToken ? assertAutopayToken(c.autopayToken) : null;
  const givenPartner = c.partnerId != null ? assertPartnerId(c.partnerId) : null;
  let partnerId = givenPartner;
  const customer = await em.findOne(Customer, { id: c.customerId });
  if (!customer) throw notFound('Customer', c.customerId, 'input.customerId');
  if (c.parentAccountId) {
    // Under a share lock: a close of the parent running at the same time sees this child, or has committed and is seen here.
    const parent = await lockAccount(em, c.parentAccountId, 'share');
    if (!parent) throw notFound('BillingAccount', c.parentAccountId, 'input.parentAccountId');
    if (parent.customerId !== customer.id) throw badInput('input.parentAccountId', `Account ${parent.id} belongs to another customer`, 'PARENT_ACCOUNT_OTHER_CUSTOMER');
    if (parent.currency !== currency) {
      throw new DomainError('CURRENCY_MISMATCH', `The parent account bills in ${parent.currency}; a child account cannot bill in ${currency}`, { field: 'input.currency' }, 'BAD_USER_INPUT');
    }
    assertAccountOpen(parent, 'input.parentAccountId');
    // A hierarchy is one partner's customer (or the operator's own): the child takes its parent's partner.
    if (givenPartner !== null && givenPartner !== (parent.partnerId ?? null)) {
      throw badInput('input.partnerId', `Account ${parent.id} is ${parent.partnerId ? `partner ${parent.partnerId}'s` : "no partner's"}; a child account is its parent's partner's (leave partnerId out)`, 'PARENT_ACCOUNT_OTHER_PARTNER');
    }
    partnerId = parent.partnerId ?? null;
  }
  const account = em.create(BillingAccount, {
    id: newId('billingAccount'),
    customerId: customer.id,
    parentAccountId: c.parentAccountId ?? null,
    name: c.name?.trim() || null,
    paymentMode: c.paymentMode,
    currency,
    billCycleDay,
    paymentTermsDays,
    timezone: c.timezone ?? customer.timezone,
    creditLimit: c.creditLimit ?? null,
    autopayToken,
    partnerId,
    partnerVersion: 0,
    createdAt: c.now,
  });
  enqueueEvent(em, 'billingAccountCreated', {
    source: SOURCE,
    subject: account.id,
    key: [account.id],
    time: c.now,
    data: {
      billingAccountId: account.id,
      customerId: customer.id,
      parentAccountId: account.parentAccountId,
      paymentMode: account.paymentMode,
      currency: account.currency,
      billCycleDay: account.billCycleDay,
      paymentTermsDays: account.paymentTermsDays,
      timezone: account.timezone,
      creditLimit: account.creditLimit,
      // Partners read this event: the token itself stays here; invoicing asks for it (as SYSTEM) when it charges.
      autopay: Boolean(account.autopayToken),
      // The partner whose customer it is (null: none): usage lets only that partner charge the account's lines online.
      partnerId: account.partnerId ?? null,
      // Its first assignment: a later change (updateBillingAccount partnerId) comes on billingaccount.changed with a higher one.
      partnerVersion: 0,
    },
  });
  // The account row first: the trail's rows reference it.
  await em.flush();
  const opened: FieldChange[] = [{ field: 'STATUS', oldValue: null, newValue: 'OPEN' }];
  if (account.creditLimit != null) opened.push({ field: 'CREDIT_LIMIT', oldValue: null, newValue: creditLimitValue(account.creditLimit) });
  if (account.autopayToken) opened.push({ field: 'AUTOPAY', oldValue: null, newValue: autopayValue(account.autopayToken) });
  if (account.partnerId) opened.push({ field: 'PARTNER', oldValue: null, newValue: account.partnerId, version: 0, viaAccountId: givenPartner === null ? account.parentAccountId : null });
  await recordAccountChanges(em, account.id, opened, changeRequest(c.by, c.now));
  await em.flush();
  return account;
}
