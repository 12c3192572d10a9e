import type DataLoader from 'dataloader';
import { scalarResolvers } from '@ledgerline/contracts';
import type { RequestContext } from '@ledgerline/platform';
import { Invoice } from '../persistence/entities';

export interface InvoicingContext extends RequestContext {
  invoices: DataLoader<string, Invoice | null>;
  invoicesOfAccount: DataLoader<string, Invoice[]>;
}

export const resolvers = {
  ...scalarResolvers,
  Query: {
    invoice: (_: unknown, a: { id: string }, ctx: InvoicingContext) => ctx.invoices.load(a.id),
  },
  BillingAccount: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    invoices: (account: { id: string }, _: unknown, ctx: InvoicingContext) => ctx.invoicesOfAccount.load(account.id),
  },
  Invoice: {
    __resolveReference: (ref: { id: string }, ctx: InvoicingContext) => ctx.invoices.load(ref.id),
    total: (i: Invoice) => ({ amount: i.total, currency: i.currency }),
  },
};
