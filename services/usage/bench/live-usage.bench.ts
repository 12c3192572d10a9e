/**
 * Live usage freshness (issue 6: "it updates within a second of the event"): how long after an event
 * is published to JetStream does the line's live usage (`Line.usage`, asked of the usage subgraph as
 * the gateway asks it) count it, while other lines' usage streams in at a steady rate.
 *
 * A private nats-server; the usage service with its real ingest consumer (no wallets: live usage
 * counts an event once its record is stored, with the rating-time estimate until wallets answers).
 * A publisher thread sends the background load; every PROBE_EVERY_MS a probe event goes to one of
 * PROBE_LINES lines of their own, and the line's `usage { events }` is asked every POLL_MS until it
 * counts it. In the same run, the ceiling: a probe's JetStream publish → delivery to a consumer,
 * under the same background load.
 *   npm run bench:live-usage [seconds]
 * Settings: LIVE_USAGE_BENCH_RATE (background events/s, default 1000), LIVE_USAGE_BENCH_LINES (2000).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { USAGE_INGEST_PARTITIONS, usageIngestSubject, usagePartitionOf } from '@ledgerline/contracts';
import { callerHeaders, createLogger, DEV_INTERNAL_SECRET, dropSchema, graphqlRequest, startPrivateNats, startService, SYSTEM_CALLER, TEST_DATABASE_URL, type RunningService } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { filePlanSource } from '../test/support';
import { seedBenchLines } from './bench-lines';

const SECONDS = Number(process.argv[2] ?? 10);
const RATE = Number(process.env.LIVE_USAGE_BENCH_RATE ?? 1000);
const LINES = Number(process.env.LIVE_USAGE_BENCH_LINES ?? 2000);
const PROBE_LINES = 20;
const PROBE_EVERY_MS = 50;
const POLL_MS = 5;
const TARGET_MS = 1000;
const runId = randomBytes(4).toString('hex');
const schema = `bench_${runId}_live`;
const source = `bench-${runId}`;
const logger = createLogger('live-usage-bench', 'warn');
const out = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SINCE = new Date('2025-01-01T00:00:00Z');

function pct(list: number[], p: number): number {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The background load, from a thread of its own (bench/publisher.mjs, steady mode). */
function background(natsUrl: string, subjectPrefix: string, mode: string): Promise<{ started: number; finished: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./publisher.mjs', import.meta.url), { workerData: { natsUrl, partitions: USAGE_INGEST_PARTITIONS, lines: LINES, window: 1000, source, runId, mode, subjectPrefix, count: RATE * SECONDS, rate: RATE } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

/** Sends one probe every PROBE_EVERY_MS while `load` runs, each timed by `probe`; answers the times (ms). */
async function probeWhile(load: Promise<unknown>, probe: (n: number) => Promise<number>): Promise<number[]> {
  let running = true;
  void load.finally(() => (running = false));
  const pending: Promise<number>[] = [];
  for (let n = 0; running; n++) {
    pending.push(probe(n));
    await sleep(PROBE_EVERY_MS);
  }
  return Promise.all(pending);
}

const probeMsisdn = (k: number) => `+4917${String(k).padStart(8, '0')}`;

let nats: Awaited<ReturnType<typeof startPrivateNats>> | undefined;
let svc: RunningService | undefined;
try {
  nats = await startPrivateNats();
  svc = await startService(createUsageService({ planSource: filePlanSource(), consumers: ['ingest'], deliverNew: false }), {
    env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, NATS_URL: nats.url, USAGE_DB_SCHEMA: schema, USAGE_PORT: '0' },
    logger,
  });
  const usage = usageRuntimeOf(svc.runtime);
  const { js, jsm, nc } = svc.runtime.messaging;
  await seedBenchLines(usage, LINES);
  for (let k = 0; k < PROBE_LINES; k++) {
    const lineId = `lin_probe${k}`;
    await usage.directory.applyLineState({ lineId, msisdn: probeMsisdn(k), billingAccountId: `acc_probe${k}`, status: 'ACTIVE' }, SINCE);
    await usage.directory.applySubscription({ subscriptionId: `sub_probe${k}`, lineId, msisdn: probeMsisdn(k), billingAccountId: `acc_probe${k}`, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'X', planVersionId: 'plv_prepaid', status: 'ACTIVE', startsAt: SINCE.toISOString(), endsAt: null, addOns: [] }, SINCE);
  }
  out(`live-usage bench: ${SECONDS} s at ${RATE} events/s over ${LINES} lines, a probe every ${PROBE_EVERY_MS} ms on ${PROBE_LINES} lines of their own, private nats-server ${nats.url}, schema ${schema}`);

  // Ceiling: a probe's JetStream publish → delivery to a consumer, under the same background load.
  await jsm.streams.add({ name: 'BENCHRAW', subjects: ['benchraw.>'] });
  const delivered = new Map<string, () => void>();
  const rawSub = nc.subscribe('benchraw.probe', { callback: (_e, m) => delivered.get(m.string())?.() });
  const rawTimes = await probeWhile(background(nats.url, 'benchraw.p', 'raw'), async (n) => {
    const id = `${runId}-raw-${n}`;
    const seen = new Promise<void>((r) => delivered.set(id, r));
    const t0 = performance.now();
    await js.publish('benchraw.probe', id);
    await seen;
    return performance.now() - t0;
  });
  rawSub.unsubscribe();
  await jsm.streams.delete('BENCHRAW');
  out(`raw JetStream publish → delivery under load: p50 ${pct(rawTimes, 50).toFixed(1)} ms, p99 ${pct(rawTimes, 99).toFixed(1)} ms (${rawTimes.length} probes; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);

  // Live usage: the probe line's `usage { events }` through the subgraph, until it counts the probe.
  const headers = () => callerHeaders(SYSTEM_CALLER, process.env.LEDGERLINE_INTERNAL_SECRET ?? DEV_INTERNAL_SECRET);
  const ENTITIES = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Line { usage { events } } } }';
  const eventsOf = async (lineId: string): Promise<number> => {
    const res = await graphqlRequest<{ _entities: { usage: { events: number } }[] }>(svc!.url, ENTITIES, { r: [{ __typename: 'Line', id: lineId }] }, { headers: headers() });
    if (res.errors) throw new Error(JSON.stringify(res.errors));
    return res.data!._entities[0]!.usage.events;
  };
  const sentTo = new Array<number>(PROBE_LINES).fill(0);
  // One probe at a time per line: a probe waits for the one before on its line to be counted.
  const lineTurn = Array.from({ length: PROBE_LINES }, () => Promise.resolve(0));
  const liveTimes = await probeWhile(background(nats.url, 'billing.usage.ingest.p', 'live'), (n) => {
    const k = n % PROBE_LINES;
    const turn = lineTurn[k]!.then(async () => {
      const expected = ++sentTo[k]!;
      const msisdn = probeMsisdn(k);
      const body = JSON.stringify({ source, eventId: `${runId}-probe-${n}`, msisdn, usageType: 'SMS', quantity: '1', calledNumber: '+4930123456', occurredAt: new Date().toISOString() });
      const t0 = performance.now();
      await js.publish(usageIngestSubject(usagePartitionOf(msisdn)), body);
      while ((await eventsOf(`lin_probe${k}`)) < expected) await sleep(POLL_MS);
      return performance.now() - t0;
    });
    lineTurn[k] = turn;
    return turn;
  });
  const within = liveTimes.filter((t) => t <= TARGET_MS).length;
  out(`event → Line.usage under ${RATE} events/s: p50 ${pct(liveTimes, 50).toFixed(0)} ms, p99 ${pct(liveTimes, 99).toFixed(0)} ms, max ${Math.max(...liveTimes).toFixed(0)} ms; ${within} of ${liveTimes.length} probes within ${TARGET_MS} ms (load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  out(`live-usage: ${pct(liveTimes, 99).toFixed(0)} ms p99 event to Line.usage @${RATE}/s (raw publish to delivery p99 ${pct(rawTimes, 99).toFixed(1)} ms, ratio ${(pct(liveTimes, 99) / pct(rawTimes, 99)).toFixed(1)}x)`);
} finally {
  await svc?.close().catch(() => undefined);
  await nats?.stop();
  if (!process.env.USAGE_BENCH_KEEP) await dropSchema(schema).catch(() => undefined);
}
