import { dec, newId, notFound, badInput } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { BillingAccount, Customer } from '../persistence/entities';
import { assertBillCycleDay, assertCurrency, assertTimezone } from '../domain/validation';

export interface OpenBillingAccountCommand {
  customerId: string;
  paymentMode: 'PREPAID' | 'POSTPAID';
  currency: string;
  billCycleDay?: number | null;
  timezone?: string | null;
  creditLimit?: string | null;
  now: Date;
}

export async function openBillingAccount(em: Em, c: OpenBillingAccountCommand): Promise<BillingAccount> {
  // Check the input before touching the database, so the caller hears about every field it controls.
  const currency = assertCurrency(c.currency);
  const billCycleDay = assertBillCycleDay(c.billCycleDay ?? 1);
  if (c.timezone) assertTimezone(c.timezone, 'input.timezone');
  if (c.creditLimit != null && dec(c.creditLimit).isNegative()) throw badInput('input.creditLimit', 'A credit limit cannot be negative', 'CREDIT_LIMIT_NEGATIVE');
  const customer = await em.findOne(Customer, { id: c.customerId });
  if (!customer) throw notFound('Customer', c.customerId, 'input.customerId');
  const account = em.create(BillingAccount, {
    id: newId('billingAccount'),
    customerId: customer.id,
    paymentMode: c.paymentMode,
    currency,
    billCycleDay,
    timezone: c.timezone ?? customer.timezone,
    creditLimit: c.creditLimit ?? null,
    createdAt: c.now,
  });
  enqueueEvent(em, 'billingAccountCreated', {
    source: 'ledgerline/subscribers',
    subject: account.id,
    key: [account.id],
    time: c.now,
    data: { billingAccountId: account.id, customerId: customer.id, paymentMode: account.paymentMode, currency: account.currency, billCycleDay: account.billCycleDay, timezone: account.timezone },
  });
  await em.flush();
  return account;
}
