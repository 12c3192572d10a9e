import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainError } from '@ledgerline/contracts';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Em, type Orm } from '@ledgerline/platform';
import { assertNumberNotQuarantined } from '../src/application/number-quarantine';
import { entities, ProductOrder } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

/**
 * `Migration20270202000000_order_network_undone_at` on both dialects: an order FAILED before it with
 * no compensation left (the saga's done, or the workflow's) is taken as undone on the network, so a
 * line cancelled after its failed activation keeps releasing its number at once; one whose in-process
 * saga is still to undo the network is not, and holds its number back until the saga has.
 */
const TARGET = 'Migration20270202000000_order_network_undone_at';
const before = migrations.slice(0, migrations.findIndex((m) => m.name === TARGET));
const t0 = new Date('2026-11-01T08:00:00Z');
const cancelled = new Date('2026-11-21T10:00:00Z');
const MSISDN = { undone: '+4915100000201', compensating: '+4915100000202' };
const LINE = `insert into line (id, billing_account_id, msisdn, status, created_at, updated_at, terminated_at) values (?, 'acc_old', ?, 'TERMINATED', ?, ?, ?)`;
const ORDER = `insert into product_order (id, kind, status, billing_account_id, line_id, request, created_at, updated_at, completed_at, saga_compensate) values (?, ?, ?, 'acc_old', ?, '{}', ?, ?, ?, ?)`;

async function migrate(open: (list: typeof migrations) => Promise<Orm>) {
  const old = await open(before);
  try {
    const c = old.em.fork().getConnection();
    await c.execute(`insert into customer (id, name, kind, notification_preferences, credit_class, locale, timezone, created_at) values ('cus_old', 'Old', 'INDIVIDUAL', '{}', 'A', 'en', 'UTC', ?)`, [t0]);
    await c.execute(`insert into billing_account (id, customer_id, payment_mode, currency, bill_cycle_day, payment_terms_days, timezone, created_at) values ('acc_old', 'cus_old', 'POSTPAID', 'EUR', 1, 14, 'UTC', ?)`, [t0]);
    for (const [name, msisdn] of Object.entries(MSISDN)) {
      await c.execute(LINE, [`lin_${name}`, msisdn, t0, cancelled, cancelled]);
      await c.execute(ORDER, [`ord_${name}_new`, 'NEW_LINE', 'FAILED', `lin_${name}`, t0, t0, null, name === 'compensating']);
      await c.execute(ORDER, [`ord_${name}_term`, 'TERMINATE', 'COMPLETED', `lin_${name}`, cancelled, cancelled, cancelled, false]);
    }
  } finally {
    await old.close();
  }
  const orm = await open(migrations);
  try {
    const orders = await (orm.em.fork() as Em).find(ProductOrder, { kind: 'NEW_LINE' }, { orderBy: { id: 'asc' } });
    const undoneAt = Object.fromEntries(orders.map((o) => [o.id, o.networkUndoneAt ? new Date(o.networkUndoneAt).toISOString() : null]));
    const told: Record<string, string | null> = {};
    for (const [name, msisdn] of Object.entries(MSISDN)) {
      try {
        await assertNumberNotQuarantined(orm.em.fork() as Em, { msisdn, customerId: 'cus_new', days: 90, now: new Date('2026-11-30T10:00:00Z') });
        told[name] = null;
      } catch (e) {
        if (!(e instanceof DomainError) || e.code !== 'MSISDN_QUARANTINED') throw e;
        told[name] = String(e.details.availableAt);
      }
    }
    return { undoneAt, told };
  } finally {
    await orm.close();
  }
}

const expected = {
  undoneAt: { ord_compensating_new: null, ord_undone_new: t0.toISOString() },
  told: { undone: null, compensating: '2027-02-19T10:00:00.000Z' },
};

describe('order-network-undone-at migration', () => {
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
