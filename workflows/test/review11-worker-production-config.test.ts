// Review 11: the worker's production checks looked at GATEWAY_URL only. Pointed at the subgraphs
// one by one (WALLETS_GRAPHQL_URL, INVOICING_GRAPHQL_URL) it started without a SYSTEM token (every
// call refused), and with no URL at all it ran production on its in-memory stand-ins (sandbox
// wallets, invoicing and disputes that nothing else sees) after a warning.
import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/main';

const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.e30.x';

describe('worker settings in production', () => {
  it('wants a real SYSTEM token whichever URL it calls the graph by', () => {
    expect(() => readConfig({ NODE_ENV: 'production', WALLETS_GRAPHQL_URL: 'http://wallets:4004/graphql', INVOICING_GRAPHQL_URL: 'http://invoicing:4005/graphql' })).toThrow(/^LEDGERLINE_SERVICE_TOKEN: /);
    expect(() => readConfig({ NODE_ENV: 'production', WALLETS_GRAPHQL_URL: 'http://wallets:4004/graphql', INVOICING_GRAPHQL_URL: 'http://invoicing:4005/graphql', LEDGERLINE_SERVICE_TOKEN: 'change-me' })).toThrow(/LEDGERLINE_SERVICE_TOKEN/);
    expect(readConfig({ NODE_ENV: 'production', WALLETS_GRAPHQL_URL: 'http://wallets:4004/graphql', INVOICING_GRAPHQL_URL: 'http://invoicing:4005/graphql', LEDGERLINE_SERVICE_TOKEN: TOKEN }).serviceToken).toBe(TOKEN);
  });

  it('refuses to run on in-memory stand-ins', () => {
    expect(() => readConfig({ NODE_ENV: 'production', LEDGERLINE_SERVICE_TOKEN: TOKEN })).toThrow(/GATEWAY_URL/);
    expect(() => readConfig({ NODE_ENV: 'production', WALLETS_GRAPHQL_URL: 'http://wallets:4004/graphql', LEDGERLINE_SERVICE_TOKEN: TOKEN })).toThrow(/GATEWAY_URL/);
    // Development keeps them.
    expect(readConfig({}).walletsUrl).toBeUndefined();
  });
});
