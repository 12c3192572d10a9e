import { entityLoader, type ServiceDefinition } from '@ledgerline/platform';
import { entities, UsageRecord } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers } from './graphql/resolvers';

export const usageService: ServiceDefinition = {
  name: 'usage',
  schemaPath: new URL('../schema.graphql', import.meta.url),
  entities,
  migrations,
  resolvers: resolvers as never,
  context: ({ em }) => ({ usageRecords: entityLoader(em, UsageRecord) }),
};
