// Where a charge batch (money only, from allowance buckets, on one hot wallet; BATCH charges, 1000 by default) and a 100-request
// reserve batch (then its commit) spend their time, statement by statement.
// Usage: npx tsx services/wallets/bench/profile.ts (RUNS, BATCH, RESERVE_BATCH, ONLY=spread|bucketed|hot|reserve, EXPLAIN=1, APART=1)
import { readFileSync } from 'node:fs';
import type { ChargeRequest } from '@ledgerline/contracts';
import { startServiceForTest } from '@ledgerline/platform';
import { createWalletsService } from '../src/service';
import { depsOf } from '../src/deps';
import { applyChargesIn } from '../src/application/apply-charges';
import { closeMany, reserveMany } from '../src/application/reservations';
import type { Sql } from '../src/persistence/sql';

const now = new Date('2026-11-25T10:00:00Z');
const env = { WALLETS_TEMPORAL: 'off', WALLETS_CONSUMER_DELIVER: 'new', WALLETS_JOBS: 'off', WALLETS_CONSUMERS: 'off', LOG_LEVEL: 'warn' };
Object.assign(process.env, env);
const svc = await startServiceForTest(createWalletsService({ env: { ...process.env, ...env } }), { env });
const db = depsOf(svc.runtime).db;
const W = 10_000;
const TICK_MS = 1000 / Number(process.env.CLK_TCK ?? 100);
/** CPU time (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks, 10 ms each by default). */
function backendCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}
const cpuTotals = { node: 0, pg: 0 };
try {
  await db.tx(async (sql) => {
    await sql.query(`insert into wallet (id, billing_account_id, currency, payment_mode, overdraft_limit, created_at) select 'wal_b' || i, 'acc_b' || i, 'EUR', 'PREPAID', 0, $1::timestamptz from generate_series(0, $2) i`, [now, W]);
    await sql.query(`insert into ledger_account (id, billing_account_id, kind, unit, balance, created_at)
      select 'wal_b' || i, 'acc_b' || i, 'CASH_WALLET', 'EUR', 1000, $1::timestamptz from generate_series(0, $2) i
      union all select 'acc_b' || i || ':' || k || ':EUR', 'acc_b' || i, k, 'EUR', case when k = 'PAYMENTS_CLEARING' then -1000 when k = 'REVENUE' then null else 0 end, $1::timestamptz from generate_series(0, $2) i,
        unnest(array['UNBILLED_RECEIVABLE','REVENUE','TAX_PAYABLE','PAYMENTS_CLEARING','VOUCHER_CLEARING','ADJUSTMENTS','RESERVED']) k`, [now, W]);
  });
  // Allowance buckets (data, voice, SMS) for the first 2,000 accounts, as usage's bench grants them: the 'bucketed' run.
  await db.tx(async (sql) => {
    await sql.query(`insert into bucket (id, billing_account_id, line_id, allowance_id, name, unit, initial_quantity, priority, valid_from, valid_to, rollover_percent, status, grant_key, created_at)
      select 'bkt_b' || i || '_' || a, 'acc_b' || i, 'lin', a, a, u, 1000000, 100, '2020-01-01', '2100-01-01', 0, 'ACTIVE', 'g' || i || a, $1::timestamptz
        from generate_series(0, 1999) i, (values ('data', 'MB'), ('voice', 'SECOND'), ('sms', 'MESSAGE')) as x(a, u)`, [now]);
    await sql.query(`insert into ledger_account (id, billing_account_id, kind, unit, balance, created_at)
      select 'bkt_b' || i || '_' || a, 'acc_b' || i, 'UNIT_BUCKET', u, 1000000, $1::timestamptz from generate_series(0, 1999) i, (values ('data', 'MB'), ('voice', 'SECOND'), ('sms', 'MESSAGE')) as x(a, u)
      union all select 'acc_b' || i || ':' || k || ':' || u, 'acc_b' || i, k, u, case when k = 'ALLOWANCE_GRANTED' then -1000000 when k = 'ALLOWANCE_USED' then null else 0 end, $1::timestamptz
        from generate_series(0, 1999) i, (values ('MB'), ('SECOND'), ('MESSAGE')) as x(u), unnest(array['ALLOWANCE_GRANTED','ALLOWANCE_USED','RESERVED']) k`, [now]);
  });
  // A live database has statistics (autovacuum); a freshly loaded one must be analyzed, or plans are for empty tables.
  await db.query('analyze');
  const times = new Map<string, { n: number; ms: number }>();
  const time = async <T>(key: string, run: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await run();
    } finally {
      const e = times.get(key) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += performance.now() - t;
      times.set(key, e);
    }
  };
  const label = (text: string) => text.replace(/\s+/g, ' ').slice(0, 70);
  const timed = (sql: Sql): Sql => ({
    async query(text, params) {
      if (process.env.EXPLAIN && /^\s*(with t as|select id, case|select a.id, case|select b.\*, a.balance)/.test(text)) {
        await sql.query('savepoint x');
        const plan = await sql.query<Record<string, string>>(`explain (analyze, buffers) ${text}`, params);
        await sql.query('rollback to savepoint x');
        console.log(plan.map((r) => r['QUERY PLAN']).join('\n'));
      }
      return time(label(text), () => sql.query(text, params));
    },
    write: (text, params) => time(`held: ${label(text)}`, () => sql.write(text, params)),
    // APART=1: each statement of a reading in a round trip of its own, to time them one by one.
    queries: async (statements) => {
      if (!process.env.APART) return time(`${statements.length} together: ${statements.map((s) => label(s.text).slice(0, 20)).join(' | ')}`, () => sql.queries(statements));
      const rows: Record<string, any>[][] = [];
      for (const s of statements) rows.push((await time(`apart: ${label(s.text)}`, () => sql.queries([s])))[0]!);
      return rows;
    },
  });
  const report = (label: string, total: number, runs: number) => {
    console.log(`\n${label}: ${(total / runs).toFixed(1)} ms per batch`);
    for (const [k, v] of [...times].sort((a, b) => b[1].ms - a[1].ms)) console.log(`  ${(v.ms / runs).toFixed(2).padStart(8)} ms  x${(v.n / runs).toFixed(1)}  ${k}`);
    times.clear();
  };
  const mk = (i: number, w: number, tag: string): ChargeRequest => ({ chargeId: `${tag}-${i}`, billingAccountId: `acc_b${w}`, lineId: 'lin', paymentMode: 'PREPAID', currency: 'EUR', usageType: 'DATA', occurredAt: now.toISOString(), units: '1', unit: 'MB', allowanceIds: tag === 'bucketed' ? ['data'] : [], pricePerUnit: '0.01', allowOverdraft: false });
  const RUNS = Number(process.env.RUNS ?? 5);
  // Charges per batch (BATCH=1: the fixed cost of a batch, what a lightly loaded consumer pays per message).
  const BATCH = Number(process.env.BATCH ?? 1000);
  const runs = ([['spread', (i: number) => (i * 7919) % W], ['bucketed', (i: number) => (i * 7919) % 2000], ['hot', () => W]] as const).filter(([label]) => !process.env.ONLY || process.env.ONLY === label);
  for (const [label, wallet] of runs) {
    let total = 0;
    for (let r = 0; r <= RUNS; r++) {
      const batch = Array.from({ length: BATCH }, (_, k) => mk(r * BATCH + k, wallet(r * BATCH + k), label));
      if (r === 0) times.clear();
      const t = performance.now();
      const cpu = process.cpuUsage();
      let backend = 0;
      let pgBefore = 0;
      await db.tx(async (sql) => {
        // The backend's own CPU (utime + stime from /proc), read around the batch: unlike wall time, not
        // inflated by other processes on a shared machine. Its first statement is not timed.
        backend = Number((await sql.query<{ pid: number }>('select pg_backend_pid() as pid'))[0]!.pid);
        pgBefore = backendCpuMs(backend);
        return applyChargesIn(timed(sql), batch, now, { results: 'caller' });
      });
      const pgUsed = backendCpuMs(backend) - pgBefore;
      const used = process.cpuUsage(cpu);
      if (r > 0) {
        console.log(`  node CPU ${((used.user + used.system) / 1000).toFixed(1)} ms, PostgreSQL backend CPU ${pgUsed.toFixed(0)} ms for this batch`);
        cpuTotals.node += (used.user + used.system) / 1000;
        cpuTotals.pg += pgUsed;
      }
      if (r > 0) total += performance.now() - t;
      else times.clear();
    }
    report(`charges ${label} (${BATCH})`, total, RUNS);
    console.log(`  CPU per charge: node ${((cpuTotals.node * 1000) / (RUNS * BATCH)).toFixed(1)} µs, PostgreSQL backend ${((cpuTotals.pg * 1000) / (RUNS * BATCH)).toFixed(1)} µs`);
    cpuTotals.node = cpuTotals.pg = 0;
  }
  let total = 0;
  let windowStart = 0;
  const reserved: string[][] = [];
  for (let r = 0; r <= (process.env.ONLY && process.env.ONLY !== 'reserve' ? -1 : RUNS); r++) {
    const RB = Number(process.env.RESERVE_BATCH ?? 100);
    const reqs = Array.from({ length: RB }, (_, k) => ({ requestId: `rq-${r}-${k}`, sessionId: `s-${r}-${k}`, billingAccountId: `acc_b${(r * RB + k) * 31 % W}`, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '10', pricePerUnit: '0.01', allowanceIds: [] }));
    const t = performance.now();
    const cpu = process.cpuUsage();
    const replies = await db.tx((sql) => reserveMany(timed(sql), reqs, now));
    reserved.push(replies.flatMap((x) => (x.reservationId ? [x.reservationId] : [])));
    const used = process.cpuUsage(cpu);
    if (r > 0 && RUNS < 1000) console.log(`  node CPU ${((used.user + used.system) / 1000).toFixed(1)} ms for this reserve batch`);
    if (r > 0) total += performance.now() - t;
    else times.clear();
    // Many runs: the time per batch every 500, to see it drift as reservations accumulate (ADR 13).
    if (RUNS >= 1000 && r > 0 && r % 500 === 0) {
      console.log(`  batches ${r - 499}-${r}: ${((total - windowStart) / 500).toFixed(2)} ms per batch`);
      windowStart = total;
    }
  }
  report(`reserve (${process.env.RESERVE_BATCH ?? 100} requests)`, total, RUNS);
  // The same groups committed (half the units used), as a network element's final reports.
  let closing = 0;
  for (const [r, ids] of reserved.entries()) {
    const t = performance.now();
    await db.tx((sql) => closeMany(timed(sql), ids.map((reservationId) => ({ reservationId, usedUnits: '5', closing: 'COMMITTED' as const })), now));
    if (r > 0) closing += performance.now() - t;
    else times.clear();
  }
  if (reserved.length > 1) report(`commit (${process.env.RESERVE_BATCH ?? 100} reservations)`, closing, reserved.length - 1);
} finally {
  await svc.close();
}
process.exit(0);
