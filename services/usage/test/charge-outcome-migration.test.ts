/**
 * Migration …215000000_charge_outcomes on a database with records from before it: charges wallets
 * had settled (written into usage_record by the old ChargeResult update) move to charge_outcome,
 * charges still waiting go on the sweeper's work list (pending_charge, with their back-off), and
 * the service reads them as before (GraphQL chargeStatus / amountCharged, the sweeper).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { dropSchema, openDatabase, TEST_DATABASE_URL } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

const schema = `t_${randomBytes(4).toString('hex')}_usagemig`;
const db = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path="${schema}"` });

afterAll(async () => {
  await db.end().catch(() => undefined);
  await dropSchema(schema);
});

const open = (list: typeof migrations) => openDatabase({ service: 'usage', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '/nonexistent', entities, migrations: list });

describe('migration charge_outcomes', () => {
  it('moves settled charges to charge_outcome and waiting ones to pending_charge', async () => {
    const last = migrations.findIndex((m) => m.name === 'Migration20261215000000_charge_outcomes');
    expect(last).toBeGreaterThan(0);
    const before = await open(migrations.slice(0, last));
    await before.close(true);
    await db.connect();
    const rec = (id: string, chargeStatus: string, extra: string) =>
      db.query(`insert into usage_record (id, source, event_id, status, charge_status, received_at, rated_at, spend, from_allowance, charge, ${extra ? 'amount_charged, units_from_allowances, charge_reason, granted_units, ' : ''}charge_sent_at, charge_attempts)
                values ($1, 'mig', $1, 'RATED', $2, '2026-03-10T10:00:00Z', '2026-03-10T10:00:01Z', 0.09, 0, '{}', ${extra ? `${extra}, ` : ''}$3, $4)`,
      [id, chargeStatus, chargeStatus === 'PENDING' ? new Date('2026-03-10T10:05:00Z') : null, chargeStatus === 'PENDING' ? 3 : 0]);
    await rec('usg_a', 'APPLIED', `0.05, 0, null, 1`);
    await rec('usg_d', 'DENIED', `0, 0, 'WALLET_INSUFFICIENT_BALANCE', 0`);
    await rec('usg_p', 'PENDING', '');
    await rec('usg_n', 'NONE', '');

    const after = await open(migrations);
    await after.close(true);
    const outcomes = (await db.query(`select usage_record_id as id, outcome, amount_charged::text as amount, reason, granted_units::text as granted from charge_outcome order by 1`)).rows;
    expect(outcomes).toEqual([
      { id: 'usg_a', outcome: 'APPLIED', amount: '0.050000', reason: null, granted: '1.000000' },
      { id: 'usg_d', outcome: 'DENIED', amount: '0.000000', reason: 'WALLET_INSUFFICIENT_BALANCE', granted: '0.000000' },
    ]);
    const pending = (await db.query(`select usage_record_id as id, rated_at, charge_sent_at, charge_attempts from pending_charge`)).rows;
    expect(pending).toEqual([{ id: 'usg_p', rated_at: new Date('2026-03-10T10:00:01Z'), charge_sent_at: new Date('2026-03-10T10:05:00Z'), charge_attempts: 3 }]);
    // The partial index of PENDING records is gone (every record would stay PENDING in it now).
    expect((await db.query(`select 1 from pg_indexes where schemaname = $1 and indexname = 'usage_record_charge_pending_idx'`, [schema])).rowCount).toBe(0);
  });
});
