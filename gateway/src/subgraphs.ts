import { SERVICES, type ServiceName } from '@ledgerline/contracts';
import { DEFAULT_PORTS, loadSdl } from '@ledgerline/platform';

export interface SubgraphSource {
  name: ServiceName;
  sdl: string;
  /** The URL written into the checked-in supergraph; overridden at run time by `<NAME>_URL`. */
  defaultUrl: string;
}

export function subgraphSources(): SubgraphSource[] {
  return SERVICES.map((name) => ({
    name,
    sdl: loadSdl(new URL(`../../services/${name}/schema.graphql`, import.meta.url)),
    defaultUrl: `http://127.0.0.1:${DEFAULT_PORTS[name]}/graphql`,
  }));
}

/** Where the gateway finds each subgraph now: `<NAME>_URL`, else its default port. */
export function subgraphUrl(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return env[`${name.toUpperCase()}_URL`] ?? `http://127.0.0.1:${DEFAULT_PORTS[name]}/graphql`;
}
