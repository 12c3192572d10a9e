/**
 * The ChargeResult write alone: N events rated and stored through UsagePipeline (no JetStream, no
 * wallets), then wallets' answers applied as the `charges` consumer applies them (applyChargeResults,
 * batches of `batch`, one after another), and the same answers once more (a redelivery: nothing to
 * settle). Prints the milliseconds per batch of each pass.
 *   npx tsx services/usage/bench/charge-results.bench.ts [N] [batch]
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ChargeResult } from '@ledgerline/contracts';
import { createLogger, dropSchema, startService, TEST_DATABASE_URL } from '@ledgerline/platform';
import { createUsageService } from '../src/service';
import { usageRuntimeOf } from '../src/usage-runtime';
import { UsagePipeline } from '../src/application/usage-pipeline';
import { applyChargeResults } from '../src/application/apply-charge-result';
import { filePlanSource } from '../test/support';
import { benchEvents, seedBenchLines } from './bench-lines';

const N = Number(process.argv[2] ?? 40_000);
const BATCH = Number(process.argv[3] ?? 2000);
const LINES = 2000;
const runId = randomBytes(4).toString('hex');
const schema = `bench_${runId}_usagecr`;
const logger = createLogger('usage-charge-results-bench', 'warn');
const svc = await startService(createUsageService({ planSource: filePlanSource(), consumers: [] }), {
  env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, USAGE_DB_SCHEMA: schema, USAGE_PORT: '0', USAGE_SQL_POOL_MAX: '4' },
  logger,
});
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(1)} ms, mean ${(s.reduce((a, b) => a + b, 0) / s.length).toFixed(1)} ms, min ${s[0].toFixed(1)} ms`;
};
try {
  const usage = usageRuntimeOf(svc.runtime);
  const pipeline = new UsagePipeline({ ...usage.pipeline.deps, publishCharges: async () => undefined });
  await seedBenchLines(usage, LINES);
  const base = Date.now() - 3_600_000;
  const event = benchEvents(runId, LINES, base);
  for (let off = 0; off < N; off += BATCH) await pipeline.process(Array.from({ length: Math.min(BATCH, N - off) }, (_, k) => event(off + k)));
  // What wallets answers when the ledger agrees with the rating (the usual case: no counter reload).
  const { rows } = await usage.sql.query<{ id: string; spend: string | null; from_allowance: string | null; charged_units: string }>(
    `select id, spend::text, from_allowance::text, charged_units::text from usage_record where charge is not null order by rated_at, id`,
  );
  const results = rows.map((r) => ({ chargeId: r.id, outcome: 'APPLIED', amountCharged: r.spend ?? '0', unitsFromAllowances: r.from_allowance ?? '0', units: r.charged_units }) as ChargeResult);
  await usage.sql.query('vacuum analyze usage_record');
  const pass = async () => {
    const ms: number[] = [];
    for (let off = 0; off < results.length; off += BATCH) {
      const t = performance.now();
      await applyChargeResults(usage.sql, results.slice(off, off + BATCH));
      ms.push(performance.now() - t);
    }
    return ms;
  };
  const first = await pass();
  const again = await pass();
  process.stdout.write(`charge results (${results.length}, batches of ${BATCH}): settle ${stats(first)}; redelivered ${stats(again)} (load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);
} finally {
  await svc.close();
  if (!process.env.USAGE_BENCH_KEEP) await dropSchema(schema);
}
