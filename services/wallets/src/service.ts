import { entityLoader, groupLoader, type ServiceDefinition } from '@ledgerline/platform';
import { entities, Wallet } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers } from './graphql/resolvers';

export const walletsService: ServiceDefinition = {
  name: 'wallets',
  schemaPath: new URL('../schema.graphql', import.meta.url),
  entities,
  migrations,
  resolvers: resolvers as never,
  context: ({ em }) => ({
    wallets: entityLoader(em, Wallet),
    walletsOfAccount: groupLoader((ids) => em.find(Wallet, { billingAccountId: { $in: [...ids] } }, { orderBy: { currency: 'asc' } }), (w) => w.billingAccountId),
  }),
};
