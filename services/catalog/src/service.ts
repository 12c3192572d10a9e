import { entityLoader, type ServiceDefinition } from '@ledgerline/platform';
import { entities, Plan, PlanVersion } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers } from './graphql/resolvers';

export const catalogService: ServiceDefinition = {
  name: 'catalog',
  schemaPath: new URL('../schema.graphql', import.meta.url),
  entities,
  migrations,
  resolvers: resolvers as never,
  context: (base) => ({ plans: entityLoader(base.em, Plan), planVersions: entityLoader(base.em, PlanVersion) }),
};
