// Bill-run benchmark: bills N postpaid accounts with usage (default 100,000; BILLRUN_ACCOUNTS to
// change) through the real bill-run use cases (plan batches, then claim → load → compose → insert
// per batch, as the service's runner does), and measures a plain set-based SQL aggregation of the
// same data as the ceiling. Data is generated with set-based multi-row inserts in a throw-away
// PostgreSQL schema that is dropped at the end.
//
//   npx tsx services/invoicing/bench/billrun.bench.ts
import { randomBytes } from 'node:crypto';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Em } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import { registerPlanVersion } from '../src/application/read-model';
import { processBillRunBatch, startBillRun } from '../src/application/bill-run';

const N = Number(process.env.BILLRUN_ACCOUNTS ?? 100_000);
const USAGE_PER_ACCOUNT = Number(process.env.BILLRUN_USAGE_PER_ACCOUNT ?? 6);
const BATCH = Number(process.env.BILLRUN_BATCH ?? 1000);
const schema = `bench_billrun_${randomBytes(3).toString('hex')}`;
const now = new Date('2026-10-05T10:00:00Z');

const orm = await openDatabase({ service: 'invoicing', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations });
const log = (msg: string) => process.stderr.write(`${msg}\n`);
try {
  const em = orm.em.fork() as Em;
  const conn = em.getConnection();
  await em.transactional((tx) =>
    registerPlanVersion(tx as Em, 'plv_bench', { code: 'POSTPAID_20GB', name: 'Smart 20 GB', taxCategory: 'TELECOM_STANDARD', recurringFee: { amount: '29.99', period: 'MONTH', proration: 'DAILY' } }, now),
  );
  let t = performance.now();
  await conn.execute(`insert into billing_account (id, customer_name, payment_mode, currency, bill_cycle_day, timezone, jurisdiction, rounding_mode, series, payment_terms_days, status, created_at)
    select 'acc_' || lpad(g::text, 8, '0'), 'Customer ' || g, 'POSTPAID', 'EUR', 1, 'Europe/Berlin', 'DE', 'HALF_EVEN', 'INV', 14, 'ACTIVE', now() from generate_series(1, ${N}) g`);
  // Every tenth account changed plan mid-cycle (two segments), the rest have one.
  await conn.execute(`insert into subscription_segment (subscription_id, line_id, msisdn, billing_account_id, plan_code, plan_version_id, valid_from, valid_to)
    select 'sub_' || g, 'lin_' || g, '+49151' || lpad(g::text, 7, '0'), 'acc_' || lpad(g::text, 8, '0'), 'POSTPAID_20GB', 'plv_bench', '2026-08-01T00:00:00Z',
           case when g % 10 = 0 then timestamptz '2026-09-15T22:00:00Z' else null end from generate_series(1, ${N}) g`);
  await conn.execute(`insert into unbilled_charge (charge_id, billing_account_id, line_id, usage_type, zone, unit, units, amount, currency, occurred_at, received_at)
    select 'chg_' || g || '_' || u, 'acc_' || lpad(g::text, 8, '0'), 'lin_' || g,
           (array['DATA','VOICE','SMS'])[1 + u % 3], (array['NATIONAL','ROAMING_EU','ROAMING_WORLD'])[1 + (g + u) % 3], (array['MB','SECOND','MESSAGE'])[1 + u % 3],
           1 + (g * 7 + u * 13) % 500, ((g * 31 + u * 17) % 1000) / 997.0, 'EUR', timestamptz '2026-09-02T00:00:00Z' + ((g + u) % 27) * interval '1 day', now()
      from generate_series(1, ${N}) g, generate_series(1, ${USAGE_PER_ACCOUNT}) u`);
  await conn.execute('analyze');
  log(`generated ${N} accounts, ${N * USAGE_PER_ACCOUNT} usage charges in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // Ceiling: the same aggregation as plain set-based SQL (recurring fee + usage per account, taxed, rounded per line).
  t = performance.now();
  const ceilingRows = await conn.execute(`
    with usage as (
      select billing_account_id, usage_type, zone, sum(units) q, round(sum(amount), 2) net, count(*) n
        from unbilled_charge where invoice_id is null and occurred_at < '2026-09-30T22:00:00Z' group by 1, 2, 3),
    fees as (
      select billing_account_id, round(29.99 * extract(epoch from (coalesce(least(valid_to, '2026-09-30T22:00:00Z'), '2026-09-30T22:00:00Z') - greatest(valid_from, '2026-08-31T22:00:00Z'))) / 2592000, 2) net
        from subscription_segment),
    lines as (select billing_account_id, net from usage union all select billing_account_id, net from fees)
    select count(*) as accounts, sum(total) as grand from (select billing_account_id, sum(net + round(net * 0.19, 2)) total from lines group by 1) x`);
  const ceilingSeconds = (performance.now() - t) / 1000;
  const ceilingRate = Number(ceilingRows[0].accounts) / ceilingSeconds;
  log(`set-based SQL: ${ceilingRows[0].accounts} accounts in ${ceilingSeconds.toFixed(2)} s`);

  t = performance.now();
  const { run } = await orm.em.fork().transactional((tx) => startBillRun(tx as Em, { cycleDate: '2026-10-01', batchSize: BATCH, driver: 'WORKFLOW', now }));
  let batches = 0;
  for (;;) {
    const r = await orm.em.fork().transactional((tx) => processBillRunBatch(tx as Em, run.id, null, { catalog: null }, now));
    if (!r) break;
    batches += 1;
    if (batches % 10 === 0) log(`  ${batches}/${run.totalBatches} batches, ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const seconds = (performance.now() - t) / 1000;
  const [{ n }] = await conn.execute(`select count(*) as n from invoice where state = 'SENT'`);
  const [{ lines }] = await conn.execute(`select count(*) as lines from invoice_line`);
  const [{ unbilled }] = await conn.execute(`select count(*) as unbilled from unbilled_charge where invoice_id is null`);
  if (Number(n) !== N || Number(unbilled) !== 0) throw new Error(`expected ${N} issued invoices and no unbilled charges, got ${n} and ${unbilled}`);
  const rate = N / seconds;
  log(`bill run: ${n} invoices (${lines} lines) in ${seconds.toFixed(1)} s (${N >= 100_000 ? (seconds < 300 ? 'within' : 'OVER') : 'n/a for'} the 5-minute target for 100,000)`);
  console.log(`billrun: ${rate.toFixed(0)} invoices/s (set-based SQL ${ceilingRate.toFixed(0)} accounts/s, ratio ${(ceilingRate / rate).toFixed(1)}x)`);
} finally {
  await orm.close();
  await dropSchema(schema);
}
