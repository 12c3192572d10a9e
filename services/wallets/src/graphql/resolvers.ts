import type DataLoader from 'dataloader';
import { scalarResolvers } from '@ledgerline/contracts';
import type { RequestContext } from '@ledgerline/platform';
import { Wallet } from '../persistence/entities';

export interface WalletsContext extends RequestContext {
  wallets: DataLoader<string, Wallet | null>;
  walletsOfAccount: DataLoader<string, Wallet[]>;
}

export const resolvers = {
  ...scalarResolvers,
  Query: {
    wallet: (_: unknown, a: { id: string }, ctx: WalletsContext) => ctx.wallets.load(a.id),
  },
  BillingAccount: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    wallets: (account: { id: string }, _: unknown, ctx: WalletsContext) => ctx.walletsOfAccount.load(account.id),
  },
  Wallet: {
    __resolveReference: (ref: { id: string }, ctx: WalletsContext) => ctx.wallets.load(ref.id),
    balance: (w: Wallet) => ({ amount: w.balance, currency: w.currency }),
  },
};
