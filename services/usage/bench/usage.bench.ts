/**
 * Usage end to end: N events published to the JetStream ingest subjects (from a publisher thread)
 * are consumed, validated, guided, rated, persisted with their ChargeRequests (outbox) and live
 * counters. In the same run: raw JetStream async publish of the same N messages (ceiling), and
 * p99 event-to-persisted latency at a steady 5,000 events/s.
 *   npx tsx services/usage/bench/usage.bench.ts [N]
 */
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { USAGE_INGEST_PARTITIONS } from '@ledgerline/contracts';
import { dropSchema, startService, TEST_DATABASE_URL, TEST_NATS_URL, createLogger } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { consumeBatches } from '../src/events/jetstream';
import { INGEST_FILTER, toIncoming } from '../src/events/ingest-consumer';
import { filePlanSource } from '../test/support';

const N = Number(process.argv[2] ?? 60_000);
const LINES = 2000;
const WINDOW = 1000;
const schema = `bench_${randomBytes(3).toString('hex')}_usage`;
const runId = randomBytes(4).toString('hex');
const source = `bench-${runId}`;
const logger = createLogger('usage-bench', 'warn');

function publisher(data: Record<string, unknown>): Promise<{ started: number; finished: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./publisher.mjs', import.meta.url), { workerData: { natsUrl: TEST_NATS_URL, partitions: USAGE_INGEST_PARTITIONS, lines: LINES, window: WINDOW, source, runId, ...data } });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

const svc = await startService(createUsageService({ planSource: filePlanSource(), consumers: [] }), {
  env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, NATS_URL: TEST_NATS_URL, USAGE_DB_SCHEMA: schema, USAGE_PORT: '0', USAGE_SQL_POOL_MAX: '4' },
  logger,
});
// ChargeRequests stay in the outbox: the bench must not feed them to anybody's wallets.
await svc.runtime.relay.stop();
const usage = usageRuntimeOf(svc.runtime);
const { jsm } = svc.runtime.messaging;
const rawStream = `USAGE_BENCH_${runId}`;
try {
  process.stdout.write(`usage bench: ${N} events, ${LINES} lines, schema ${schema}\n`);
  for (let i = 0; i < LINES; i++) {
    const lineId = `lin_b${i}`;
    const msisdn = `+4916${String(i).padStart(8, '0')}`;
    const prepaid = i % 2 === 0;
    await usage.directory.applyLineState({ lineId, msisdn, billingAccountId: `acc_b${i}`, status: 'ACTIVE' }, new Date('2025-01-01T00:00:00Z'));
    await usage.directory.applySubscription({ subscriptionId: `sub_b${i}`, lineId, msisdn, billingAccountId: `acc_b${i}`, paymentMode: prepaid ? 'PREPAID' : 'POSTPAID', currency: 'EUR', planCode: 'X', planVersionId: prepaid ? 'plv_prepaid' : 'plv_postpaid', status: 'ACTIVE', startsAt: '2025-01-01T00:00:00Z', endsAt: null, addOns: [] }, new Date('2025-01-01T00:00:00Z'));
  }

  // 1. Raw ceiling: JetStream async publish of N messages of the same size, to a stream of its own.
  await jsm.streams.add({ name: rawStream, subjects: [`benchraw.${runId}.>`] });
  const raw = await publisher({ mode: 'raw', subjectPrefix: `benchraw.${runId}.p`, count: N });
  const rawRate = N / ((raw.finished - raw.started) / 1000);
  await jsm.streams.delete(rawStream);
  process.stdout.write(`raw JetStream async publish: ${rawRate.toFixed(0)} msg/s\n`);

  // 2. End to end: publish N to the ingest subjects while the consumer rates and persists them.
  let persisted = 0;
  let lastPersisted = 0;
  const latencies: number[] = [];
  let measureLatency = false;
  const stop = await consumeBatches(svc.runtime.messaging, { durable: `usage-bench-${runId}`, filter: INGEST_FILTER, deliverNew: true, max: Number(process.env.USAGE_BENCH_BATCH ?? 2000), concurrency: Number(process.env.USAGE_BENCH_CONCURRENCY ?? 3), logger }, async (batch) => {
    const items = batch.map(toIncoming);
    const outcomes = await usage.pipeline.process(items);
    for (const m of batch) m.ack();
    const now = Date.now();
    for (let i = 0; i < items.length; i++) {
      const r = items[i].raw as { source?: string; sentAt?: number };
      if (r?.source !== source || outcomes[i].duplicate) continue;
      persisted++;
      if (measureLatency && r.sentAt) latencies.push(now - r.sentAt);
    }
    lastPersisted = now;
  });
  const e2e = await publisher({ mode: 'e2e', subjectPrefix: 'billing.usage.ingest.p', count: N });
  while (persisted < N) await new Promise((r) => setTimeout(r, 20));
  const e2eRate = N / ((lastPersisted - e2e.started) / 1000);
  process.stdout.write(`end to end: ${N} events in ${((lastPersisted - e2e.started) / 1000).toFixed(2)} s (publish alone took ${((e2e.finished - e2e.started) / 1000).toFixed(2)} s)\n`);

  // 3. Latency at a steady 5,000 events/s.
  const STEADY = Math.min(25_000, N);
  persisted = 0;
  measureLatency = true;
  await publisher({ mode: 'steady', subjectPrefix: 'billing.usage.ingest.p', count: STEADY, rate: 5000 });
  while (persisted < STEADY) await new Promise((r) => setTimeout(r, 20));
  await stop();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  process.stdout.write(`steady 5000 events/s: p50 ${pct(50)} ms, p99 ${pct(99)} ms event-to-persisted (${latencies.length} events)\n`);
  const { rows } = await usage.sql.query(`select (select count(*) from usage_record where status = 'RATED')::int as rated, (select count(*) from outbox)::int as outbox`);
  process.stdout.write(`stored: ${rows[0].rated} rated records, ${rows[0].outbox} outbox rows (ChargeRequests + events)\n`);
  await jsm.consumers.delete('BILLING', `usage-bench-${runId}`).catch(() => undefined);
  process.stdout.write(`usage: ${e2eRate.toFixed(0)} events/s (raw publish ${rawRate.toFixed(0)} events/s, ratio ${(e2eRate / rawRate).toFixed(2)}x)\n`);
} finally {
  await jsm.streams.delete(rawStream).catch(() => undefined);
  await svc.close();
  await dropSchema(schema);
}
