// Charging benchmark: batched charges (the JetStream consumer's code path) vs the same debits as
// plain single-row SQL transactions, on 10,000 wallets and on one hot wallet, plus reservation
// latency over NATS request/reply at a fixed rate. Runs in a throw-away PostgreSQL schema.
// Usage: npx tsx services/wallets/bench/charging.bench.ts   (BENCH_CHARGES=6000 for a quick check)
import { spawn } from 'node:child_process';
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { jetstream } from '@nats-io/jetstream';
import { RPC, WORK_SUBJECTS, chargeResultsOf, type ChargeRequest } from '@ledgerline/contracts';
import { startPrivateNats, startServiceForTest } from '@ledgerline/platform';
import { createWalletsService } from '../src/service';
import { depsOf } from '../src/deps';
import { ChargeLanes } from '../src/application/apply-charges';
import { publishChargeResults } from '../src/events/consumers';
import { checkLedgerInvariants } from '../src/persistence/invariants';
import { groupCommitStats } from '../src/application/group-commit';

const WALLETS = 10_000;
const BATCH = 1000;
// Side-by-side charge transactions, as the service's consumer runs them (WALLETS_CHARGE_LANES).
const LANES = Number(process.env.WALLETS_CHARGE_LANES ?? 2);
const SPREAD_CHARGES = Number(process.env.BENCH_CHARGES ?? 30_000);
const SHORT = SPREAD_CHARGES < 30_000;
const HOT_CHARGES = Math.ceil(SPREAD_CHARGES / 2);
const JS_CHARGES = Math.ceil(SPREAD_CHARGES / 2);
const PLAIN_SECONDS = SHORT ? 2 : 4;
const PLAIN_CONCURRENCY = 8;
const RATE = Number(process.env.BENCH_RATE ?? 2000);
const RPC_SECONDS = Number(process.env.BENCH_RPC_SECONDS ?? (SHORT ? 3 : 10));
const ECHO_SECONDS = SHORT ? 2 : 5;
// Reservations at the same rate before the measured run (other request ids), not counted: the first
// second of a cold service (JIT, the pool's connections opened and their statements prepared) runs
// at ~2x the steady latency, which a long-running service pays once. Printed, not hidden.
const RPC_WARMUP_SECONDS = Number(process.env.BENCH_RPC_WARMUP_SECONDS ?? 2);

const log = (s: string) => process.stderr.write(`${s}\n`);
const pctOf = (xs: number[], p: number) => (xs.length === 0 ? NaN : xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!);
/** Runs the network element (reserve-load.ts) as its own process and returns what it measured. */
async function reserveLoad(natsUrl: string, subject: string, seconds: number, idPrefix = 'rq'): Promise<{ sent: number; sendSeconds: number; latencies: number[]; lateness: number[]; failures: Record<string, number> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./reserve-load.ts', import.meta.url).pathname, natsUrl, subject, String(RATE), String(seconds), String(WALLETS), idPrefix], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`reserve load generator exited with ${code}`);
  return JSON.parse(out);
}

const now = new Date('2026-11-25T10:00:00Z');

/** Checkpoints PostgreSQL has started (timed or requested), server-wide. */
async function checkpointCounts(): Promise<number> {
  const [row] = await db.query<{ n: string }>('select checkpoints_timed + checkpoints_req as n from pg_stat_bgwriter');
  return Number(row?.n ?? 0);
}

// Own RPC subjects, so another wallets service on the same NATS server (a test run) cannot answer.
const PREFIX = `bench${process.pid}.`;
// A private nats-server: the bench's hundreds of thousands of ChargeResults stay out of the shared BILLING stream.
const nats = await startPrivateNats();
const env = { NATS_URL: nats.url, WALLETS_TEMPORAL: 'off', WALLETS_CONSUMER_DELIVER: 'new', WALLETS_JOBS: 'off', WALLETS_PG_POOL_MAX: '12', LOG_LEVEL: 'warn', WALLETS_RPC_PREFIX: PREFIX };
Object.assign(process.env, env);
const svc = await startServiceForTest(createWalletsService({ env: { ...process.env, ...env } }), { env });
const db = depsOf(svc.runtime).db;
try {
  log('setting up 10,000 funded wallets + 1 hot wallet…');
  await db.tx(async (sql) => {
    await sql.query(`insert into wallet (id, billing_account_id, currency, payment_mode, overdraft_limit, created_at)
      select 'wal_b' || i, 'acc_b' || i, 'EUR', 'PREPAID', 0, $1::timestamptz from generate_series(0, $2) i`, [now, WALLETS]);
    await sql.query(`insert into ledger_account (id, billing_account_id, kind, unit, balance, created_at)
      select 'wal_b' || i, 'acc_b' || i, 'CASH_WALLET', 'EUR', 0, $1::timestamptz from generate_series(0, $2) i
      union all select 'acc_b' || i || ':' || k || ':EUR', 'acc_b' || i, k, 'EUR', case when k = 'REVENUE' then null else 0 end, $1::timestamptz from generate_series(0, $2) i,
        unnest(array['UNBILLED_RECEIVABLE','REVENUE','TAX_PAYABLE','PAYMENTS_CLEARING','VOUCHER_CLEARING','ADJUSTMENTS','RESERVED']) k`, [now, WALLETS]);
    await sql.query(`insert into ledger_transaction (id, idempotency_key, kind, billing_account_id, created_at) select 'ltx_fund' || i, 'FUND:' || i, 'TOPUP', 'acc_b' || i, $1::timestamptz from generate_series(0, $2) i`, [now, WALLETS]);
    await sql.query(`insert into ledger_entry (transaction_id, account_id, unit, amount, created_at)
      select 'ltx_fund' || i, 'wal_b' || i, 'EUR', case when i = $2 then 1000000 else 1000 end, $1::timestamptz from generate_series(0, $2) i
      union all select 'ltx_fund' || i, 'acc_b' || i || ':PAYMENTS_CLEARING:EUR', 'EUR', case when i = $2 then -1000000 else -1000 end, $1::timestamptz from generate_series(0, $2) i`, [now, WALLETS]);
    await sql.query(`update ledger_account a set balance = s.total from (select account_id, sum(amount) total from ledger_entry group by 1) s where s.account_id = a.id`);
  });
  // A live database has statistics (autovacuum); a freshly loaded one must be analyzed, or plans are for empty tables.
  await db.query('analyze');
  const HOT = WALLETS; // wallet index 10,000 is the hot one
  const mk = (i: number, w: number, tag: string): ChargeRequest => ({
    chargeId: `${tag}-${i}`, billingAccountId: `acc_b${w}`, lineId: 'lin', paymentMode: 'PREPAID', currency: 'EUR', usageType: 'DATA',
    occurredAt: now.toISOString(), units: '1', unit: 'MB', allowanceIds: [], pricePerUnit: '0.01', allowOverdraft: false,
  });

  const batchMs: number[] = [];
  // What the JetStream consumer does with each fetch: hand its charges to the lanes (LANES
  // transactions of BATCH charges side by side, an account's charges in one lane; a lane takes
  // the next fetch's share as soon as it has written this one's), then, once they are written,
  // publish its ChargeResults; the next fetch is handed over before that (at most two in hand).
  // The figure counts a charge once its result is on JetStream.
  const resultsJs = jetstream(svc.runtime.messaging.nc);
  async function batched(total: number, wallet: (i: number) => number, tag: string): Promise<number> {
    const lanes = new ChargeLanes(db, { results: 'caller', lanes: LANES, batchSize: BATCH });
    const t0 = performance.now();
    let finishing: Promise<void> = Promise.resolve();
    for (let start = 0; start < total; start += BATCH * LANES) {
      const fetch = Array.from({ length: Math.min(BATCH * LANES, total - start) }, (_, k) => mk(start + k, wallet(start + k), tag));
      const b0 = performance.now();
      const applying = lanes.apply(fetch, now);
      applying.catch(() => undefined);
      await finishing;
      finishing = (async () => {
        const results = await applying;
        batchMs.push(performance.now() - b0);
        if (results.length !== fetch.length || results.some((r) => r.outcome !== 'APPLIED')) throw new Error('a benchmark charge was not applied');
        await publishChargeResults(resultsJs, results);
      })();
    }
    await finishing;
    return total / ((performance.now() - t0) / 1000);
  }

  // Through the JetStream consumer the service runs: publish the requests, then wait until the
  // ChargeResult of every charge is back on JetStream (ledger committed and the result published).
  async function viaJetStream(total: number, wallet: (i: number) => number, tag: string): Promise<number> {
    const js = jetstream(svc.runtime.messaging.nc);
    const answered = new Set<string>();
    const sub = svc.runtime.messaging.nc.subscribe(WORK_SUBJECTS.chargeApplied, { callback: (_e, m) => { for (const r of chargeResultsOf(m.json()).results) if (r.chargeId.startsWith(`${tag}-`)) answered.add(r.chargeId); } });
    const t0 = performance.now();
    // As usage publishes them: up to 250 ChargeRequests a message.
    for (let start = 0; start < total; start += 250) {
      const chunk = Array.from({ length: Math.min(250, total - start) }, (_, k) => mk(start + k, wallet(start + k), tag));
      await js.publish(WORK_SUBJECTS.chargeRequested, JSON.stringify(chunk), { msgID: `${tag}-chunk-${start}` });
    }
    const published = performance.now();
    while (answered.size < total) {
      if (performance.now() - published > 120_000) throw new Error(`JetStream path: only ${answered.size} of ${total} charges answered`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const elapsed = performance.now() - t0;
    sub.unsubscribe();
    log(`  (published in ${((published - t0) / 1000).toFixed(2)} s)`);
    return total / (elapsed / 1000);
  }
  // The outbox relay (same process) publishes one ChargeResult per charge; let it finish before the
  // next phase so phases do not measure each other, and report its rate.
  async function drainOutbox(label: string): Promise<void> {
    const t0 = performance.now();
    const pending = async () => Number((await db.query<{ n: string }>(`select count(*) n from outbox where published_at is null`))[0]!.n);
    const start = await pending();
    let left = start;
    while (left > 0 && performance.now() - t0 < 90_000) {
      await new Promise((r) => setTimeout(r, 250));
      left = await pending();
    }
    const s = (performance.now() - t0) / 1000;
    if (start > 0) log(`  outbox relay (${label}): ${start - left} ChargeResults published in ${s.toFixed(1)} s (${((start - left) / s).toFixed(0)}/s)${left ? `, ${left} still pending` : ''}`);
  }
  const perBatch = () => {
    const s = [...batchMs].sort((a, b) => a - b);
    batchMs.length = 0;
    return `${s[Math.floor(s.length / 2)]!.toFixed(1)} ms per fetch of ${BATCH * LANES} charges in ${LANES} lanes, handed over to written, queueing included (median of ${s.length})`;
  };

  // Plain single-row SQL: one transaction per debit (guarded update + transaction with its decision +
  // 2 entries; the revenue account keeps no balance, as in the service: ADR 0018).
  async function plain(wallet: (i: number) => number, tag: string): Promise<number> {
    let n = 0;
    const end = performance.now() + PLAIN_SECONDS * 1000;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: PLAIN_CONCURRENCY }, async (_, worker) => {
      const client = await db.pool.connect();
      try {
        for (let i = worker; performance.now() < end; i += PLAIN_CONCURRENCY) {
          const w = wallet(i);
          await client.query('begin');
          const upd = await client.query(`update ledger_account set balance = balance - 0.01 where id = $1 and balance >= 0.01`, [`wal_b${w}`]);
          if (upd.rowCount !== 1) throw new Error('plain debit refused');
          // With its decision, as the service stores one (the invariant checker compares it with the entries).
          await client.query(`insert into ledger_transaction (id, idempotency_key, kind, billing_account_id, created_at, outcome) values ($1, $1, 'CHARGE', $2, $3, '{"outcome":"APPLIED","amountCharged":"0.01","unitsFromAllowances":"0"}')`, [`${tag}-${i}`, `acc_b${w}`, now]);
          await client.query(`insert into ledger_entry (transaction_id, account_id, unit, amount, created_at) values ($1, $2, 'EUR', -0.01, $4), ($1, $3, 'EUR', 0.01, $4)`, [`${tag}-${i}`, `wal_b${w}`, `acc_b${w}:REVENUE:EUR`, now]);
          await client.query('commit');
          n++;
        }
      } finally {
        client.release();
      }
    }));
    return n / ((performance.now() - t0) / 1000);
  }

  await batched(2000, (i) => (i * 7919) % WALLETS, 'warm');
  log('batched, spread over 10,000 wallets…');
  batchMs.length = 0;
  const spread = await batched(SPREAD_CHARGES, (i) => (i * 7919) % WALLETS, 'spread');
  log(`  ${spread.toFixed(0)} charges/s, ${perBatch()}`);
  await drainOutbox('after batched spread');
  log('batched through the JetStream consumer, spread…');
  const viaJs = await viaJetStream(JS_CHARGES, (i) => (i * 7919) % WALLETS, `js${process.pid}x${Date.now().toString(36)}`);
  log(`  ${viaJs.toFixed(0)} charges/s end to end (request published → ChargeResult published)`);
  await drainOutbox('after JetStream path');
  log('plain SQL, spread…');
  const plainSpread = await plain((i) => (i * 104729) % WALLETS, 'plain');
  log(`  ${plainSpread.toFixed(0)} charges/s`);
  log('batched, one hot wallet…');
  const hot = await batched(HOT_CHARGES, () => HOT, 'hot');
  log(`  ${hot.toFixed(0)} charges/s, ${perBatch()}`);
  log('plain SQL, one hot wallet…');
  const plainHot = await plain(() => HOT, 'plainhot');
  log(`  ${plainHot.toFixed(0)} charges/s`);

  await drainOutbox('after hot wallet');
  // The transport alone, as the ceiling: the same client and rate against a responder that answers at once.
  log(`NATS request/reply echo at ${RATE}/s for ${ECHO_SECONDS} s (the same client against a responder that answers at once)…`);
  const echo = svc.runtime.messaging.nc.subscribe(`${PREFIX}echo`, { callback: (_e, m) => void m.respond('{"resultCode":"SUCCESS"}') });
  const echoLoad = await reserveLoad(nats.url, `${PREFIX}echo`, ECHO_SECONDS);
  echo.unsubscribe();
  const echoLatencies = echoLoad.latencies.sort((a, b) => a - b);
  log(`  p50 ${pctOf(echoLatencies, 50).toFixed(2)} ms, p99 ${pctOf(echoLatencies, 99).toFixed(2)} ms`);
  if (RPC_WARMUP_SECONDS > 0) {
    const warm = await reserveLoad(nats.url, `${PREFIX}${RPC.walletReserve}`, RPC_WARMUP_SECONDS, 'wu');
    const w = warm.latencies.sort((a, b) => a - b);
    log(`reservations warm-up at ${RATE}/s for ${RPC_WARMUP_SECONDS} s (not counted): p50 ${pctOf(w, 50).toFixed(2)} ms, p99 ${pctOf(w, 99).toFixed(2)} ms`);
    groupCommitStats.delete('reserve');
  }
  log(`reservations over NATS at ${RATE}/s for ${RPC_SECONDS} s (open loop, from a separate client process)…`);
  const cpu0 = process.cpuUsage();
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  // What can stall a reservation besides the transport: the service's own GC pauses and PostgreSQL
  // checkpoints (their writes and fsyncs share the disk with the commits' WAL flushes).
  const gcPauses: number[] = [];
  const gcObserver = new PerformanceObserver((list) => list.getEntries().forEach((e) => gcPauses.push(e.duration)));
  gcObserver.observe({ entryTypes: ['gc'] });
  const checkpointsBefore = await checkpointCounts();
  const load = await reserveLoad(nats.url, `${PREFIX}${RPC.walletReserve}`, RPC_SECONDS);
  const cpu = process.cpuUsage(cpu0);
  eld.disable();
  gcObserver.disconnect();
  const checkpointsAfter = await checkpointCounts();
  log(`  wallets event loop delay p50 ${(eld.percentile(50) / 1e6).toFixed(1)} ms p99 ${(eld.percentile(99) / 1e6).toFixed(1)} ms max ${(eld.max / 1e6).toFixed(1)} ms`);
  log(`  GC pauses in the service's process: ${gcPauses.length}, ${gcPauses.filter((d) => d > 10).length} over 10 ms, longest ${Math.max(0, ...gcPauses).toFixed(1)} ms; PostgreSQL checkpoints during the run: ${checkpointsAfter - checkpointsBefore}`);
  const total = load.sent;
  const failed = Object.values(load.failures).reduce((a, b) => a + b, 0);
  const achieved = total / load.sendSeconds;
  const latencies = load.latencies.sort((a, b) => a - b);
  const lateness = load.lateness.sort((a, b) => a - b);
  const pct = (p: number) => pctOf(latencies, p);
  log(`  ${achieved.toFixed(0)} req/s sent, p50 ${pct(50).toFixed(2)} ms, p99 ${pct(99).toFixed(2)} ms, max ${pct(100).toFixed(1)} ms, ${failed} failed ${failed ? JSON.stringify(load.failures) : ''}`);
  log(`  wallets process CPU ${(((cpu.user + cpu.system) / 1e6 / load.sendSeconds) * 100).toFixed(0)}% of one core`);
  const gs = groupCommitStats.get('reserve');
  if (gs) {
    const tx = [...gs.recentTxMs].sort((a, b) => a - b);
    const inService = [...gs.recentReplyMs].sort((a, b) => a - b);
    log(`  group commit: ${gs.batches} transactions, ${(gs.requests / gs.batches).toFixed(1)} requests each, ${(gs.txMs / gs.batches).toFixed(1)} ms each (p50 ${pctOf(tx, 50).toFixed(1)}, p99 ${pctOf(tx, 99).toFixed(1)}, max ${tx[tx.length - 1]?.toFixed(1)} ms), ${gs.retriedAlone} retried alone; in the service (queue + transaction) p50 ${pctOf(inService, 50).toFixed(1)} ms, p99 ${pctOf(inService, 99).toFixed(1)} ms`);
  }
  log(`  (client send timer lateness p50 ${pctOf(lateness, 50).toFixed(2)} ms p99 ${pctOf(lateness, 99).toFixed(2)} ms)`);
  const [{ n: reserved }] = await db.query<{ n: string }>(`select count(*) n from reservation where request_key like 'rq-%'`);
  // A request that timed out on the client may still have been granted; never more than were sent.
  if (Number(reserved) < total - failed || Number(reserved) > total) throw new Error(`${reserved} reservations stored, expected ${total - failed} to ${total}`);

  const problems = await checkLedgerInvariants(db);
  if (problems.length) throw new Error(`ledger invariants broken: ${problems.join('; ')}`);
  const ratio = (a: number, b: number) => (a / b).toFixed(1);
  log(`batched via JetStream consumer: ${viaJs.toFixed(0)} charges/s (direct applyCharges ${spread.toFixed(0)} charges/s)`);
  console.log(
    `charging: ${spread.toFixed(0)} charges/s (plain SQL ${plainSpread.toFixed(0)} charges/s, ratio ${ratio(spread, plainSpread)}x); hot wallet ${hot.toFixed(0)}/s vs ${plainHot.toFixed(0)}/s unbatched (ratio ${ratio(hot, plainHot)}x); reserve p50 ${pct(50).toFixed(1)} ms p99 ${pct(99).toFixed(1)} ms @${RATE}/s (NATS echo p99 ${pctOf(echoLatencies, 99).toFixed(1)} ms; ${achieved.toFixed(0)}/s achieved, ${failed} failed)`,
  );
} finally {
  await svc.close();
  await nats.stop();
}
process.exit(0);
