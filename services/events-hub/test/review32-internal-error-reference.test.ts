// review32: the hub's API answered a failure it did not expect (PostgreSQL refusing a row, a gauge's query failing at
// a scrape) `Internal error` with nothing a partner could quote, and its log line had nothing to find it by; a
// failed /metrics scrape was even answered 200, the error's JSON in place of the metrics. Now such an answer is 500
// `internal error (reference <uuid>)` with `reference` in the TMF630 body, logged at error with the same reference
// and the failure (PostgreSQL's text only there). Coded refusals (4xx) are answered as they were.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@ledgerline/platform';
import { api, HUB, startHubForTest, startReceiver } from './support';

const PARTNER = { role: 'PARTNER' as const, partnerId: 'review32-p' };

const lines: string[] = [];
let t: Awaited<ReturnType<typeof startHubForTest>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  t = await startHubForTest({}, { logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }) as unknown as Logger });
  receiver = await startReceiver();
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

/** The error-level log line carrying `reference`. */
const loggedWith = (reference: unknown) => lines.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.level === 50 && l.reference === reference);
const table = (name: string) => `"${t.hub.config.databaseSchema}".${name}`;

describe('review32: an internal failure of the hub API is answered with a reference its log line has', () => {
  it('a hub PostgreSQL refuses to store: 500 "internal error (reference …)", the constraint only in the log', async () => {
    await t.hub.knex.raw(`alter table ${table('hub')} add constraint review32_no_new_hubs check (false) not valid`);
    try {
      const r = await api(t.hub, 'POST', HUB, PARTNER, { callback: receiver.url });
      expect(r.status).toBe(500);
      const reference = r.body?.reference;
      expect(reference).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.body).toEqual({ '@type': 'Error', code: 'INTERNAL', reason: 'INTERNAL', message: `internal error (reference ${reference})`, status: '500', reference });
      expect(JSON.stringify(r.body)).not.toMatch(/review32_no_new_hubs|constraint|relation/);
      const line = loggedWith(reference);
      expect(line).toMatchObject({ method: 'POST', path: HUB });
      expect(JSON.stringify(line?.err)).toContain('review32_no_new_hubs');
    } finally {
      await t.hub.knex.raw(`alter table ${table('hub')} drop constraint review32_no_new_hubs`);
    }
    // A coded refusal is still the caller's to act on, without a reference.
    const bad = await api(t.hub, 'POST', HUB, PARTNER, { callback: 'not a url' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'HUB_CALLBACK_INVALID', field: 'callback' });
    expect(bad.body).not.toHaveProperty('reference');
  });

  it('a /metrics scrape whose gauge query fails: 500 with a reference (was 200 with an error body), the query only in the log', async () => {
    // The dead-letter and pending gauges read webhook_delivery at each scrape. Last in this file: the hub cannot deliver without it.
    await t.hub.knex.raw(`alter table ${table('webhook_delivery')} rename to webhook_delivery_review32`);
    const response = await fetch(`${t.hub.url}/metrics`);
    const text = await response.text();
    expect({ status: response.status, contentType: response.headers.get('content-type') }).toEqual({ status: 500, contentType: 'application/json' });
    const body = JSON.parse(text) as Record<string, unknown>;
    const reference = body.reference;
    expect(reference).toMatch(/^[0-9a-f-]{36}$/);
    expect(body).toEqual({ '@type': 'Error', code: 'INTERNAL', reason: 'INTERNAL', message: `internal error (reference ${reference})`, status: '500', reference });
    expect(text).not.toMatch(/webhook_delivery|relation/);
    const line = loggedWith(reference);
    expect(line).toMatchObject({ method: 'GET', path: '/metrics' });
    expect(JSON.stringify(line?.err)).toContain('webhook_delivery');
  });
});
