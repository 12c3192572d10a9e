import type DataLoader from 'dataloader';
import { scalarResolvers } from '@ledgerline/contracts';
import type { RequestContext } from '@ledgerline/platform';
import { BillingAccount, Customer, Line } from '../persistence/entities';
import { createCustomer, type CreateCustomerCommand } from '../application/create-customer';
import { openBillingAccount, type OpenBillingAccountCommand } from '../application/open-billing-account';
import { addLine, type AddLineCommand } from '../application/add-line';
import { normalizeMsisdn } from '../domain/validation';

export interface SubscribersContext extends RequestContext {
  customers: DataLoader<string, Customer | null>;
  accounts: DataLoader<string, BillingAccount | null>;
  lines: DataLoader<string, Line | null>;
  accountsOfCustomer: DataLoader<string, BillingAccount[]>;
  linesOfAccount: DataLoader<string, Line[]>;
}

type Input<C> = { input: Omit<C, 'now'> };

/** Runs a use case in a transaction with the request's clock, then wakes the outbox relay. */
async function mutate<T>(ctx: SubscribersContext, work: (em: SubscribersContext['em'], now: Date) => Promise<T>): Promise<T> {
  const result = await ctx.em.transactional((em) => work(em as SubscribersContext['em'], ctx.runtime.clock.now()));
  ctx.runtime.relay.nudge();
  return result;
}

export const resolvers = {
  ...scalarResolvers,
  Query: {
    customer: (_: unknown, a: { id: string }, ctx: SubscribersContext) => ctx.customers.load(a.id),
    billingAccount: (_: unknown, a: { id: string }, ctx: SubscribersContext) => ctx.accounts.load(a.id),
    line: (_: unknown, a: { id: string }, ctx: SubscribersContext) => ctx.lines.load(a.id),
    lineByMsisdn: (_: unknown, a: { msisdn: string }, ctx: SubscribersContext) => ctx.em.findOne(Line, { msisdn: normalizeMsisdn(a.msisdn, 'msisdn') }),
  },
  Mutation: {
    createCustomer: async (_: unknown, a: Input<CreateCustomerCommand>, ctx: SubscribersContext) => ({ customer: await mutate(ctx, (em, now) => createCustomer(em, { ...a.input, now })) }),
    openBillingAccount: async (_: unknown, a: Input<OpenBillingAccountCommand>, ctx: SubscribersContext) => ({
      billingAccount: await mutate(ctx, (em, now) => openBillingAccount(em, { ...a.input, now })),
    }),
    addLine: async (_: unknown, a: Input<AddLineCommand>, ctx: SubscribersContext) => ({ line: await mutate(ctx, (em, now) => addLine(em, { ...a.input, now })) }),
  },
  Customer: {
    __resolveReference: (ref: { id: string }, ctx: SubscribersContext) => ctx.customers.load(ref.id),
    billingAccounts: (c: Customer, _: unknown, ctx: SubscribersContext) => ctx.accountsOfCustomer.load(c.id),
  },
  BillingAccount: {
    __resolveReference: (ref: { id: string }, ctx: SubscribersContext) => ctx.accounts.load(ref.id),
    customer: (a: BillingAccount, _: unknown, ctx: SubscribersContext) => ctx.customers.load(a.customerId),
    lines: (a: BillingAccount, _: unknown, ctx: SubscribersContext) => ctx.linesOfAccount.load(a.id),
    creditLimit: (a: BillingAccount) => (a.creditLimit == null ? null : { amount: a.creditLimit, currency: a.currency }),
  },
  Line: {
    __resolveReference: (ref: { id: string }, ctx: SubscribersContext) => ctx.lines.load(ref.id),
    billingAccount: (l: Line, _: unknown, ctx: SubscribersContext) => ctx.accounts.load(l.billingAccountId),
  },
};
