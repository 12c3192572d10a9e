import { badInput, newId } from '@ledgerline/contracts';
import { enqueueEvent, type Em } from '@ledgerline/platform';
import { Customer } from '../persistence/entities';
import { assertTimezone } from '../domain/validation';

export interface CreateCustomerCommand {
  name: string;
  kind: 'INDIVIDUAL' | 'BUSINESS';
  email?: string | null;
  locale?: string | null;
  timezone?: string | null;
  now: Date;
}

export async function createCustomer(em: Em, c: CreateCustomerCommand): Promise<Customer> {
  if (!c.name.trim()) throw badInput('input.name', 'A customer needs a name');
  if (c.email && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(c.email)) throw badInput('input.email', `"${c.email}" is not an email address`, 'EMAIL_INVALID');
  const customer = em.create(Customer, {
    id: newId('customer'),
    name: c.name.trim(),
    kind: c.kind,
    email: c.email ?? null,
    locale: c.locale ?? 'en',
    timezone: assertTimezone(c.timezone ?? 'UTC', 'input.timezone'),
    createdAt: c.now,
  });
  enqueueEvent(em, 'customerCreated', { source: 'ledgerline/subscribers', subject: customer.id, key: [customer.id], time: c.now, data: { customerId: customer.id, kind: customer.kind } });
  await em.flush();
  return customer;
}
