/**
 * The rating path alone: UsagePipeline.rate (guide, rate, live counters, trace, ChargeRequest, row) on
 * events whose lines and counters are in memory, no database and no broker in the loop: the CPU per
 * event of the part of usage that runs once per event, for comparing two versions of it (run each a
 * few times, alternating; take the lowest of the later rounds).
 *   npx tsx services/usage/bench/rate-path.bench.ts [events per round]
 */
import { randomBytes } from 'node:crypto';
import { createLogger, dropSchema, startService, TEST_DATABASE_URL } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { UsagePipeline } from '../src/application/usage-pipeline';
import { validateUsage } from '../src/domain/usage-input';
import { filePlanSource } from '../test/support';
import { benchEvents, seedBenchLines } from './bench-lines';
const LINES = 2000;
const runId = randomBytes(4).toString('hex');
const schema = `bench_${runId}_usager`;
const svc = await startService(createUsageService({ planSource: filePlanSource(), consumers: [] }), { env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, USAGE_DB_SCHEMA: schema, USAGE_PORT: '0' }, logger: createLogger('m', 'warn') });
try {
  const usage = usageRuntimeOf(svc.runtime);
  const pipeline = new UsagePipeline({ ...usage.pipeline.deps, publishCharges: async () => undefined });
  await seedBenchLines(usage, LINES);
  const base = Date.now() - 3_600_000;
  const event = benchEvents(runId, LINES, base);
  await pipeline.process(Array.from({ length: LINES }, (_, i) => event(1_000_000 + i)));
  // rate is private: what a batch runs per event once its lookups are done.
  const p = pipeline as unknown as { rate: (...args: unknown[]) => Promise<unknown> };
  const now = new Date();
  const N = Number(process.argv[2] ?? 20000);
  for (let round = 0; round < 6; round++) {
    const evs = Array.from({ length: N }, (_, i) => event(round * N + i));
    const vs = evs.map((e) => validateUsage(e.raw, { source: e.source }, now));
    const lines = vs.map((v) => v.ok && usage.directory.get(v.usage.lineId, v.usage.msisdn, v.usage.occurredAt));
    const c0 = process.cpuUsage(); const t0 = performance.now();
    for (let i = 0; i < N; i++) { const v = vs[i] as { usage: unknown }; await p.rate(`id${round}-${i}`, v.usage, lines[i], evs[i].raw, now, false); }
    const c = process.cpuUsage(c0);
    console.log(`rate(): ${(((c.user + c.system) / N)).toFixed(1)} us cpu/event, ${((performance.now() - t0) * 1000 / N).toFixed(1)} us wall/event`);
  }
} finally { await svc.close(); await dropSchema(schema); }
