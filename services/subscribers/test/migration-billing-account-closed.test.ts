import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

/**
 * `Migration20261222000000_billing_account_closed` on both dialects subscribers runs on: an account
 * made before it is OPEN, not closed, and a CLOSED one is stored with its date, reason and key.
 */
const TARGET = 'Migration20261222000000_billing_account_closed';
const before = migrations.slice(0, migrations.findIndex((m) => m.name === TARGET));
const t0 = new Date('2026-11-10T08:00:00Z');

async function migrate(open: (list: typeof migrations) => Promise<Orm>) {
  const old = await open(before);
  try {
    const c = old.em.fork().getConnection();
    await c.execute(`insert into customer (id, name, kind, notification_preferences, credit_class, locale, timezone, created_at) values ('cus_1', 'Old', 'INDIVIDUAL', '{}', 'A', 'en', 'UTC', ?)`, [t0]);
    await c.execute(`insert into billing_account (id, customer_id, payment_mode, currency, bill_cycle_day, payment_terms_days, timezone, created_at) values ('acc_old', 'cus_1', 'POSTPAID', 'EUR', 1, 14, 'UTC', ?)`, [t0]);
  } finally {
    await old.close();
  }
  const orm = await open(migrations);
  try {
    const c = orm.em.fork().getConnection();
    await c.execute(`update billing_account set status = 'CLOSED', closed_at = ?, closed_reason = 'left', closed_key = 'k1' where id = 'acc_old'`, [t0]);
    await c.execute(`insert into billing_account (id, customer_id, payment_mode, currency, bill_cycle_day, payment_terms_days, timezone, created_at) values ('acc_new', 'cus_1', 'POSTPAID', 'EUR', 1, 14, 'UTC', ?)`, [t0]);
    return (await c.execute(`select id, status, closed_reason, closed_key from billing_account order by id`)) as Record<string, unknown>[];
  } finally {
    await orm.close();
  }
}

const expected = [
  { id: 'acc_new', status: 'OPEN', closed_reason: null, closed_key: null },
  { id: 'acc_old', status: 'CLOSED', closed_reason: 'left', closed_key: 'k1' },
];

describe('billing-account-closed migration', () => {
  it('PostgreSQL', async () => {
    const schema = `t_mig_${Date.now().toString(36)}_subscribers`;
    try {
      expect(await migrate((list) => openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations: list }))).toEqual(expected);
    } finally {
      await dropSchema(schema);
    }
  });

  it('SQLite', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-subscribers-mig-'));
    try {
      expect(await migrate((list) => openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath: path.join(dir, 'subscribers.sqlite'), entities, migrations: list }))).toEqual(expected);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
