import { badInput, newId } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { Customer } from '../persistence/entities';
import { assertMaxLength, assertTimezone, normalizeMsisdn } from '../domain/validation';
import { SOURCE } from './events';

export interface NotificationPreferences {
  email: boolean;
  sms: boolean;
  push: boolean;
  webhookUrl: string | null;
}

export interface CreateCustomerCommand {
  name: string;
  kind: 'INDIVIDUAL' | 'BUSINESS';
  email?: string | null;
  phone?: string | null;
  locale?: string | null;
  timezone?: string | null;
  creditClass?: 'A' | 'B' | 'C' | 'D' | null;
  notificationPreferences?: Partial<NotificationPreferences> | null;
  now: Date;
}

/** Characters of a webhook URL: communication_message.receiver is varchar(400). */
export const WEBHOOK_URL_MAX = 400;

export function notificationPreferences(input: Partial<NotificationPreferences> | null | undefined, hasEmail: boolean): NotificationPreferences {
  const prefs: NotificationPreferences = { email: input?.email ?? hasEmail, sms: input?.sms ?? true, push: input?.push ?? false, webhookUrl: input?.webhookUrl ?? null };
  if (prefs.webhookUrl) {
    // Every message to it is a communication_message row whose receiver is varchar(400): a longer URL,
    // once stored, made each message to the customer fail to be stored (their consumers' batches redelivered without end).
    assertMaxLength(prefs.webhookUrl, WEBHOOK_URL_MAX, 'input.notificationPreferences.webhookUrl', 'WEBHOOK_URL_TOO_LONG');
    let url: URL | null = null;
    try {
      url = new URL(prefs.webhookUrl);
    } catch {
      /* handled below */
    }
    if (!url || url.protocol !== 'https:') throw badInput('input.notificationPreferences.webhookUrl', `"${prefs.webhookUrl}" is not an https URL`, 'WEBHOOK_URL_INVALID');
  }
  return prefs;
}

export async function createCustomer(em: Em, c: CreateCustomerCommand): Promise<Customer> {
  if (!c.name.trim()) throw badInput('input.name', 'A customer needs a name', 'NAME_REQUIRED');
  // The columns' sizes (customer.name varchar(200), email varchar(320)).
  assertMaxLength(c.name.trim(), 200, 'input.name', 'NAME_TOO_LONG');
  if (c.email) assertMaxLength(c.email, 320, 'input.email', 'EMAIL_TOO_LONG');
  if (c.email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(c.email)) throw badInput('input.email', `"${c.email}" is not an email address`, 'EMAIL_INVALID');
  const phone = c.phone ? normalizeMsisdn(c.phone, 'input.phone') : null;
  const locale = c.locale ?? 'en';
  if (!/^[a-z]{2,3}(-[A-Z]{2})?$/.test(locale)) throw badInput('input.locale', `"${locale}" is not a locale such as en or de-DE`, 'LOCALE_INVALID');
  const prefs = notificationPreferences(c.notificationPreferences, Boolean(c.email));
  if (prefs.email && !c.email) throw badInput('input.notificationPreferences.email', 'Email notifications need an email address', 'EMAIL_REQUIRED');
  const customer = em.create(Customer, {
    id: newId('customer'),
    name: c.name.trim(),
    kind: c.kind,
    email: c.email ?? null,
    phone,
    notificationPreferences: JSON.stringify(prefs),
    creditClass: c.creditClass ?? 'C',
    locale,
    timezone: assertTimezone(c.timezone ?? 'UTC', 'input.timezone'),
    createdAt: c.now,
  });
  enqueueEvent(em, 'customerCreated', { source: SOURCE, subject: customer.id, key: [customer.id], time: c.now, data: { customerId: customer.id, kind: customer.kind, locale: customer.locale, timezone: customer.timezone } });
  await em.flush();
  return customer;
}
