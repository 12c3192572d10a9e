/**
 * The usage pipeline alone (no JetStream, no wallets): batches of events straight into
 * UsagePipeline.process, to see what each stage costs per 1000 events on PostgreSQL.
 *   npx tsx services/usage/bench/pipeline.bench.ts [N] [batch] [concurrency]
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { createLogger, dropSchema, startService, TEST_DATABASE_URL } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { UsagePipeline } from '../src/application/usage-pipeline';
import { filePlanSource } from '../test/support';
import { benchEvents, seedBenchLines } from './bench-lines';

const N = Number(process.argv[2] ?? 40_000);
const BATCH = Number(process.argv[3] ?? 2000);
const CONCURRENCY = Number(process.argv[4] ?? 3);
const LINES = 2000;
const runId = randomBytes(4).toString('hex');
const schema = `bench_${runId}_usagep`;
const logger = createLogger('usage-pipeline-bench', 'warn');
const svc = await startService(createUsageService({ planSource: filePlanSource(), consumers: [] }), {
  env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, USAGE_DB_SCHEMA: schema, USAGE_PORT: '0', USAGE_SQL_POOL_MAX: '4' },
  logger,
});
try {
  const usage = usageRuntimeOf(svc.runtime);
  let published = 0;
  const pipeline = new UsagePipeline({ ...usage.pipeline.deps, publishCharges: async (c) => void (published += c.length) });
  await seedBenchLines(usage, LINES);
  const base = Date.now() - 3_600_000;
  const event = benchEvents(runId, LINES, base);
  // Warm-up batch (plan compile, counters of every line).
  await pipeline.process(Array.from({ length: LINES }, (_, i) => event(N + i)));
  process.stdout.write(`timing ${N} events\n`);
  const before = { ...pipeline.stats };
  const started = performance.now();
  const inflight = new Set<Promise<unknown>>();
  for (let off = 0; off < N; off += BATCH) {
    const p = pipeline.process(Array.from({ length: Math.min(BATCH, N - off) }, (_, k) => event(off + k))).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= CONCURRENCY) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const ms = performance.now() - started;
  const s = pipeline.stats;
  const per1000 = (x: number) => ((x / (s.events - before.events)) * 1000).toFixed(0);
  process.stdout.write(`per 1000 events: lookups ${per1000(s.lookupMs - before.lookupMs)} ms, rating ${per1000(s.rateMs - before.rateMs)} ms, persist ${per1000(s.persistMs - before.persistMs)} ms, publish ${per1000(s.publishMs - before.publishMs)} ms; ${published} charges\n`);
  process.stdout.write(`usage pipeline: ${(N / (ms / 1000)).toFixed(0)} events/s (batch ${BATCH}, ${CONCURRENCY} in flight; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
} finally {
  await svc.close();
  if (!process.env.USAGE_BENCH_KEEP) await dropSchema(schema);
}
