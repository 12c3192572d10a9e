import { entityLoader, groupLoader, type ServiceDefinition } from '@ledgerline/platform';
import { entities, Invoice } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers } from './graphql/resolvers';

export const invoicingService: ServiceDefinition = {
  name: 'invoicing',
  schemaPath: new URL('../schema.graphql', import.meta.url),
  entities,
  migrations,
  resolvers: resolvers as never,
  context: ({ em }) => ({
    invoices: entityLoader(em, Invoice),
    invoicesOfAccount: groupLoader((ids) => em.find(Invoice, { billingAccountId: { $in: [...ids] } }, { orderBy: { periodStart: 'desc' } }), (i) => i.billingAccountId),
  }),
};
