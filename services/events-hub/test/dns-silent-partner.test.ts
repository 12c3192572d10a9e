import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import client from 'prom-client';
import type { CloudEvent } from '@ledgerline/contracts';
import { attemptDelivery } from '../src/application/dispatch-deliveries';
import type { HubDeps } from '../src/application/deps';
import { createHostResolver } from '../src/host-resolver';
import { createHubMetrics } from '../src/metrics';
import { claimDueDeliveries, insertDeliveries } from '../src/persistence/store';
import { api, HUB, publishPing, startHubForTest, startReceiver, until } from './support';

/**
 * A partner whose DNS server never answers must not hold the process's libuv threadpool (4 threads: getaddrinfo,
 * fs, crypto) nor delay other partners: callback hosts are resolved by a bounded resolver (c-ares, no threadpool)
 * and a lookup that gets no answer fails the attempt, retryably, with the reason.
 */

const SILENT = 'silent.partner.test';
const FAST = 'fast.partner.test';

/** A DNS server on UDP 127.0.0.1: A `FAST` → 127.0.0.1 (TTL 60), AAAA `FAST` → no record; `SILENT` is never answered. */
async function startFakeDns(): Promise<{ port: number; queries: string[]; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg, rinfo) => {
    const labels: string[] = [];
    let at = 12;
    while (msg[at]) {
      labels.push(msg.subarray(at + 1, at + 1 + msg[at]!).toString('ascii'));
      at += msg[at]! + 1;
    }
    const name = labels.join('.').toLowerCase();
    const type = msg.readUInt16BE(at + 1);
    const questionEnd = at + 5;
    queries.push(`${name}/${type}`);
    if (name !== FAST) return; // SILENT (and anything else): never answered
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180, 2); // response, recursion desired + available, NOERROR
    header.writeUInt16BE(1, 4); // one question
    header.writeUInt16BE(type === 1 ? 1 : 0, 6); // one answer for A, none for AAAA (NODATA)
    const question = msg.subarray(12, questionEnd);
    const answer =
      type === 1
        ? Buffer.concat([Buffer.from([0xc0, 0x0c]), Buffer.from([0, 1, 0, 1]), Buffer.from([0, 0, 0, 60]), Buffer.from([0, 4, 127, 0, 0, 1])])
        : Buffer.alloc(0);
    socket.send(Buffer.concat([header, question, answer]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, queries, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/**
 * Occupies every thread of libuv's pool, as getaddrinfo calls waiting on a DNS server that never answers do: each
 * opens a FIFO nobody writes to (open blocks its thread). `release` opens the write ends, so the opens return.
 */
function occupyThreadpool(): { release(): Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'events-hub-pool-'));
  const size = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: size }, (_, i) => path.join(dir, `fifo-${i}`));
  for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
  const opens = fifos.map((fifo) => fs.promises.open(fifo, 'r'));
  return {
    async release() {
      for (const fifo of fifos) {
        // Blocks only until the reader's open (in the pool) meets it; retried while that open has not started yet.
        for (;;) {
          try {
            fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 10));
          }
        }
      }
      for (const handle of await Promise.all(opens)) await handle.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

let dns: Awaited<ReturnType<typeof startFakeDns>>;
let t: Awaited<ReturnType<typeof startHubForTest>>;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const A = { role: 'PARTNER' as const, partnerId: 'dns-silent-a' };
const B = { role: 'PARTNER' as const, partnerId: 'dns-healthy-b' };
let silentHub: string;

beforeAll(async () => {
  dns = await startFakeDns();
  // Retries far out: each of A's deliveries is attempted once here.
  t = await startHubForTest({
    EVENTS_HUB_DNS_SERVERS: `127.0.0.1:${dns.port}`,
    EVENTS_HUB_DNS_TIMEOUT_MS: '800',
    EVENTS_HUB_RETRY_BASE_MS: '3600000',
  });
  receiver = await startReceiver();
  const port = new URL(receiver.url).port;
  const a = await api(t.hub, 'POST', HUB, A, { callback: `http://${SILENT}:${port}/hooks`, query: 'eventType=SystemPingEvent' });
  expect(a.status).toBe(201);
  silentHub = a.body.id;
  const b = await api(t.hub, 'POST', HUB, B, { callback: `http://${FAST}:${port}/hooks`, query: 'eventType=SystemPingEvent' });
  expect(b.status).toBe(201);
});

afterAll(async () => {
  await t?.close();
  await receiver?.close();
  await dns?.close();
});

describe('a partner whose DNS never answers', () => {
  it("fails its own attempts with the reason, retryably, while the other partner's deliveries go through in time", async () => {
    const events: CloudEvent[] = [];
    for (let i = 0; i < 6; i++) events.push(await publishPing(t.messaging));
    const started = Date.now();
    // Every event reaches B (its name resolved by the configured DNS server) in well under the timeouts.
    await until('every event at the healthy partner', () => events.every((e) => receiver.of(e.id).length >= 1), 4_000);
    expect(Date.now() - started).toBeLessThan(4_000);
    // A's: attempted, not sent, PENDING for a retry, the reason naming the host and the DNS timeout.
    const rows = await until(
      "the silent partner's attempts recorded",
      async () => {
        const r = await t.hub.knex('webhook_delivery').where({ subscription_id: silentHub }).whereIn('event_id', events.map((e) => e.id));
        return r.length === events.length && r.every((row) => row.attempts === 1) && r;
      },
      6_000,
    );
    for (const row of rows) {
      expect(row.status).toBe('PENDING');
      expect(row.last_error).toContain(SILENT);
      expect(row.last_error).toMatch(/DNS did not answer .* within 800 ms/);
    }
    // The lookups went to the configured server (not the system's getaddrinfo), and one query served many deliveries.
    expect(dns.queries.filter((q) => q.startsWith(`${SILENT}/`)).length).toBeGreaterThan(0);
    expect(dns.queries.filter((q) => q.startsWith(`${SILENT}/1`)).length).toBeLessThan(events.length);
  });

  it("the healthy partner's deliveries need no threadpool thread (held by hung lookups, fs or crypto)", async () => {
    const pool = occupyThreadpool();
    try {
      // The set-up holds every thread: an fs call does not complete meanwhile.
      const stat = fs.promises.stat(os.tmpdir()).then(() => 'done');
      expect(await Promise.race([stat, new Promise((r) => setTimeout(() => r('blocked'), 300))])).toBe('blocked');
      const event = await publishPing(t.messaging);
      await until('the event at the healthy partner while the threadpool is held', () => receiver.of(event.id).length >= 1, 3_000);
    } finally {
      await pool.release();
    }
  });

  it('production: the same resolver feeds the SSRF check; no answer is a retryable failure saying so, a loopback answer is refused', async () => {
    const resolve = createHostResolver({ servers: [`127.0.0.1:${dns.port}`], timeoutMs: 800 });
    const deps: HubDeps = {
      knex: t.hub.knex,
      clock: t.clock,
      config: { ...t.hub.config, production: true },
      logger: t.hub.logger,
      metrics: createHubMetrics(new client.Registry(), () => t.hub.knex),
      callbackPolicy: { production: true, resolve },
      wake: () => undefined,
    };
    const attempt = async (host: string, eventId: string) => {
      await t.hub.knex('hub').where({ id: silentHub }).update({ callback: `https://${host}/hooks` });
      const event = { id: eventId, type: 'SystemPingEvent' };
      // Due ten minutes ahead of the clock, so the live dispatcher (on the clock) leaves it to this test.
      const due = new Date(t.clock.now().getTime() + 600_000);
      await insertDeliveries(
        t.hub.knex,
        [{ subscriptionId: silentHub, eventId, generation: 0, subject: 'billing.catalog.system.ping', eventType: event.type, payload: JSON.stringify(event) }],
        due,
      );
      const claimed = (await claimDueDeliveries(t.hub.knex, due, 500, new Date(due.getTime() + 60_000))).find(
        (d) => d.eventId === eventId,
      );
      expect(claimed).toBeDefined();
      const started = Date.now();
      await attemptDelivery(deps, claimed!, () => 0.5);
      const row = await t.hub.knex('webhook_delivery').where({ id: claimed!.id }).first();
      return { row, ms: Date.now() - started };
    };
    const silent = await attempt(SILENT, 'evt_dns_prod_silent');
    expect(silent.row).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(silent.row.last_error).toBe(`callback host "${SILENT}" does not resolve: DNS did not answer for "${SILENT}" within 800 ms`);
    expect(silent.ms).toBeLessThan(1_800); // the DNS bound, not the HTTP timeout (2 s here) nor the system resolver's
    // FAST answers 127.0.0.1: the check on resolved addresses still refuses it before any byte is sent.
    const loopback = await attempt(FAST, 'evt_dns_prod_loopback');
    expect(loopback.row).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(loopback.row.last_error).toContain('resolves to 127.0.0.1');
    expect(receiver.of('evt_dns_prod_loopback')).toHaveLength(0);
  });
});
