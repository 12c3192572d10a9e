import { entityLoader, groupLoader, type Em, type ServiceDefinition } from '@ledgerline/platform';
import { BillingAccount, Customer, entities, Line } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers } from './graphql/resolvers';

export const subscribersService: ServiceDefinition = {
  name: 'subscribers',
  schemaPath: new URL('../schema.graphql', import.meta.url),
  entities,
  migrations,
  resolvers: resolvers as never,
  context: ({ em }: { em: Em }) => ({
    customers: entityLoader(em, Customer),
    accounts: entityLoader(em, BillingAccount),
    lines: entityLoader(em, Line),
    accountsOfCustomer: groupLoader((ids) => em.find(BillingAccount, { customerId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc' } }), (a) => a.customerId),
    linesOfAccount: groupLoader((ids) => em.find(Line, { billingAccountId: { $in: [...ids] } }, { orderBy: { msisdn: 'asc' } }), (l) => l.billingAccountId),
  }),
};
