import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { subgraphSources } from './subgraphs';

export const SUPERGRAPH_PATH = fileURLToPath(new URL('../supergraph.graphql', import.meta.url));

/** Composes the five subgraph SDLs into one supergraph; throws with every composition error. */
export function composeSupergraph(): string {
  const result = composeServices(subgraphSources().map((s) => ({ name: s.name, typeDefs: parse(s.sdl), url: s.defaultUrl })));
  if (result.errors) {
    throw new Error(`Supergraph composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  }
  return result.supergraphSdl;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sdl = composeSupergraph();
  fs.writeFileSync(SUPERGRAPH_PATH, sdl);
  process.stdout.write(`wrote ${SUPERGRAPH_PATH}\n`);
}
