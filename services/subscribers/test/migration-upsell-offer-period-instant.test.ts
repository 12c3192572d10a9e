import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

/**
 * `Migration20261223100000_upsell_offer_period_instant` on both dialects subscribers runs on: an
 * offer stored before it keeps its period, and one for a period named by its start instant (24
 * characters, usage's name for a period cut short on the day it began) is stored after it.
 */
const TARGET = 'Migration20261223100000_upsell_offer_period_instant';
const before = migrations.slice(0, migrations.findIndex((m) => m.name === TARGET));
const t0 = new Date('2026-11-10T08:00:00Z');
const OFFER = `insert into upsell_offer (id, line_id, billing_account_id, offer_code, offer_name, price, currency, period, rule, state, expires_at, created_at)
  values (?, 'lin_1', 'acc_1', 'DATA_BOOST_5GB', 'Data Boost 5 GB', '5.0000', 'EUR', ?, 'offer-data-boost-at-80', 'PRESENTED', ?, ?)`;

async function migrate(open: (list: typeof migrations) => Promise<Orm>) {
  const old = await open(before);
  try {
    const c = old.em.fork().getConnection();
    await c.execute(`insert into customer (id, name, kind, notification_preferences, credit_class, locale, timezone, created_at) values ('cus_1', 'Old', 'INDIVIDUAL', '{}', 'A', 'en', 'UTC', ?)`, [t0]);
    await c.execute(`insert into billing_account (id, customer_id, payment_mode, currency, bill_cycle_day, payment_terms_days, timezone, created_at) values ('acc_1', 'cus_1', 'POSTPAID', 'EUR', 1, 14, 'UTC', ?)`, [t0]);
    await c.execute(`insert into line (id, billing_account_id, msisdn, status, created_at, updated_at) values ('lin_1', 'acc_1', '+491701234500', 'ACTIVE', ?, ?)`, [t0, t0]);
    await c.execute(OFFER, ['upo_old', '2026-11-10', t0, t0]);
  } finally {
    await old.close();
  }
  const orm = await open(migrations);
  try {
    const c = orm.em.fork().getConnection();
    await c.execute(OFFER, ['upo_new', '2026-11-10T08:00:00.000Z', t0, t0]);
    return (await c.execute(`select id, period from upsell_offer order by id`)) as Record<string, unknown>[];
  } finally {
    await orm.close();
  }
}

const expected = [
  { id: 'upo_new', period: '2026-11-10T08:00:00.000Z' },
  { id: 'upo_old', period: '2026-11-10' },
];

describe('upsell-offer-period-instant migration', () => {
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
