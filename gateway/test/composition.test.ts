import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { composeSupergraph, SUPERGRAPH_PATH } from '../src/compose';

describe('supergraph', () => {
  it('composes from the five subgraph schemas', () => {
    expect(() => composeSupergraph()).not.toThrow();
  });

  it('is checked in and up to date (run `npm run compose` after changing a schema.graphql)', () => {
    const checkedIn = fs.readFileSync(SUPERGRAPH_PATH, 'utf8');
    expect(checkedIn).toBe(composeSupergraph());
  });

  it('lets two subgraphs contribute fields to Line and BillingAccount', () => {
    const sdl = composeSupergraph();
    expect(sdl).toMatch(/type Line[\s\S]*@join__type\(graph: SUBSCRIBERS, key: "id"\)[\s\S]*@join__type\(graph: USAGE, key: "id"\)/);
    expect(sdl).toMatch(/usage\(period: String\): LineUsage! @join__field\(graph: USAGE\)/);
  });
});
