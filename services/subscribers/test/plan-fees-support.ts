import type { Em } from '@ledgerline/platform';
import type { Caller } from '@ledgerline/contracts';
import type { FileCatalog, Harness } from './support';

const CREATE_CUSTOMER = `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`;
const OPEN_ACCOUNT = `mutation($i: OpenBillingAccountInput!) { openBillingAccount(input: $i) { billingAccount { id } } }`;

/** A GraphQL request to subscribers that must succeed: its data, or the first error's message and extensions thrown. */
export async function gqlOn<T = any>(h: Harness, query: string, variables: Record<string, unknown> = {}, caller?: Caller): Promise<T> {
  const r = await h.subscribers.request<T>(query, variables, caller);
  if (r.errors) throw new Error(`${r.errors[0]!.message} ${JSON.stringify(r.errors[0]!.extensions)}`);
  return r.data!;
}

/**
 * Adds plan `code` to the harness's file catalog: a copy of plan `base` with these one-off fees (and
 * this monthly fee, prorated daily, when given). The shipped plans declare no such fees.
 */
export function publishPlan(h: Harness, base: string, code: string, name: string, recurringFee: string | null, oneOffFees: unknown[]): void {
  const catalog = h.catalogClient as FileCatalog;
  const from = catalog.plans.get(base)!;
  const document = { ...(from.document as Record<string, unknown>), code, name, oneOffFees, ...(recurringFee ? { recurringFee: { amount: recurringFee, period: 'MONTH', proration: 'DAILY' } } : {}) };
  catalog.plans.set(code, { ...from, code, planId: `pln_${code}`, versionId: `plv_${code}_1`, document });
}

/** A new customer (`name`, `email`) with a billing account in EUR (postpaid: credit limit 300). */
export async function openAccount(h: Harness, paymentMode: 'POSTPAID' | 'PREPAID', name: string, email: string): Promise<{ customerId: string; accountId: string }> {
  const customerId = (await gqlOn(h, CREATE_CUSTOMER, { i: { name, kind: 'INDIVIDUAL', email, timezone: 'Europe/Berlin', creditClass: 'A' } })).createCustomer.customer.id as string;
  const accountId = (await gqlOn(h, OPEN_ACCOUNT, { i: { customerId, paymentMode, currency: 'EUR', billCycleDay: 1, ...(paymentMode === 'POSTPAID' ? { creditLimit: '300.00' } : {}) } })).openBillingAccount.billingAccount.id as string;
  return { customerId, accountId };
}

/**
 * Runs the order's completion in a transaction whose commit is lost (rolled back): the ids of the
 * one-off charges it had made, which a retried completion must make again.
 */
export async function completeWithLostCommit(h: Harness, orderId: string): Promise<string[]> {
  const { completeOrder } = await import('../src/application/fulfil-order');
  const { OneOffCharge } = await import('../src/persistence/entities');
  let lostAttempt: string[] = [];
  await h.subscribers.runtime.orm.em
    .fork()
    .transactional(async (em) => {
      await completeOrder(em as Em, orderId, h.clock.now());
      lostAttempt = (await em.find(OneOffCharge, { orderId })).map((c) => c.id);
      throw new Error('commit lost');
    })
    .catch(() => undefined);
  return lostAttempt;
}
