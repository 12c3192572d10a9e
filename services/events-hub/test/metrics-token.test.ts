// The hub's /metrics behind METRICS_TOKEN, as every subgraph's (docs/operations.md): Prometheus
// sends it as a bearer token; production does not start without one.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@ledgerline/platform';
import { loadHubConfig } from '../src/config';
import { startHubForTest } from './support';

const TOKEN = 'm3tr1cs-T0ken-9f2d7c4b1a8e6f3d0c5b';
let t: Awaited<ReturnType<typeof startHubForTest>>;

beforeAll(async () => {
  t = await startHubForTest({ METRICS_TOKEN: TOKEN });
});
afterAll(async () => {
  await t?.close();
});

const metrics = (authorization?: string) => fetch(`${t.hub.url}/metrics`, { headers: authorization ? { authorization } : {} });

describe('events hub /metrics with METRICS_TOKEN', () => {
  it('answers 401 without the token or with a wrong one, 200 with it; /health stays open', async () => {
    expect((await metrics()).status).toBe(401);
    expect((await metrics('Bearer wrong')).status).toBe(401);
    const ok = await metrics(`Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/\{service="events-hub"\}/);
    expect((await fetch(`${t.hub.url}/health`)).status).toBe(200);
  });

  it('production refuses to start without METRICS_TOKEN', () => {
    // Every other production setting real, so METRICS_TOKEN is what is missing.
    const env = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      JWT_SECRET: 'j7Wq2ZxP9vR4tY6uI1oA3sD5fG8hJ0kL',
      EVENTS_HUB_SECRET_KEY: randomBytes(32).toString('base64'),
    };
    expect(() => loadHubConfig(env)).toThrow(ConfigError);
    expect(() => loadHubConfig(env)).toThrow(/^METRICS_TOKEN: must be set in production/);
    expect(loadHubConfig({ ...env, METRICS_TOKEN: TOKEN }).metricsToken).toBe(TOKEN);
  });
});
