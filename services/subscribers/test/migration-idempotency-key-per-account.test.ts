import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { BillingAccount, Customer, entities, Line, ProductOrder } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

/**
 * `Migration20261221000000_order_idempotency_key_per_account` on a database that already holds
 * orders: the global unique index on product_order.idempotency_key goes, a unique index on
 * (billing_account_id, idempotency_key) comes. Rows were unique globally, so all stay as they are;
 * afterwards another account may use a key one account used, the same account may not. Migrated up
 * to the migration before, seeded, then migrated to the end, on both dialects subscribers runs on.
 */
const TARGET = 'Migration20261221000000_order_idempotency_key_per_account';
const before = migrations.slice(
  0,
  migrations.findIndex((m) => m.name === TARGET),
);
const t0 = new Date('2026-11-10T08:00:00Z');

async function seed(orm: Orm): Promise<void> {
  const em = orm.em.fork();
  em.create(Customer, { id: 'cus_1', name: 'Kim Key', kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '[]', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: t0 });
  await em.flush();
  for (const id of ['acc_1', 'acc_2']) em.create(BillingAccount, { id, customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: t0 });
  await em.flush();
  em.create(Line, { id: 'lin_1', billingAccountId: 'acc_1', msisdn: '+4915100000001', iccid: null, imsi: null, status: 'ACTIVE', planCode: 'POSTPAID_20GB', createdAt: t0, updatedAt: t0 });
  em.create(Line, { id: 'lin_2', billingAccountId: 'acc_2', msisdn: '+4915100000002', iccid: null, imsi: null, status: 'ACTIVE', planCode: 'POSTPAID_20GB', createdAt: t0, updatedAt: t0 });
  await em.flush();
  // Rows as the old schema has them (the entity may have columns later migrations add).
  const conn = em.getConnection();
  const order = (id: string, account: string, line: string, key: string | null) =>
    conn.execute(`insert into product_order (id, kind, status, billing_account_id, line_id, request, idempotency_key, request_hash, created_at, updated_at) values (?, 'SUSPEND', 'COMPLETED', ?, ?, '{}', ?, ?, ?, ?)`, [id, account, line, key, key ? 'h' : null, t0, t0]);
  await order('ord_1', 'acc_1', 'lin_1', 'change-plan-1');
  await order('ord_2', 'acc_1', 'lin_1', 'dunning-inv_1:suspend:lin_1');
  await order('ord_3', 'acc_1', 'lin_1', null);
  await order('ord_4', 'acc_2', 'lin_2', null);
  await order('ord_5', 'acc_2', 'lin_2', 'change-plan-2');
}

async function migrateWithOrders(open: (list: typeof migrations) => Promise<Orm>) {
  const old = await open(before);
  try {
    await seed(old);
    // Before: a key is one global space; acc_2 cannot use acc_1's key.
    const refusedBefore = await insert(old, 'ord_b', 'acc_2', 'lin_2', 'change-plan-1');
    expect(refusedBefore).toBe('unique violation');
  } finally {
    await old.close();
  }
  const orm = await open(migrations); // runs the target migration
  try {
    const em = orm.em.fork();
    const rows = (await em.find(ProductOrder, {}, { orderBy: { id: 'asc' } })).map((o) => [o.id, o.billingAccountId, o.idempotencyKey ?? null]);
    return {
      rows,
      otherAccount: await insert(orm, 'ord_6', 'acc_2', 'lin_2', 'change-plan-1'),
      sameAccount: await insert(orm, 'ord_7', 'acc_1', 'lin_1', 'change-plan-1'),
      sameAccountOtherKey: await insert(orm, 'ord_8', 'acc_1', 'lin_1', 'change-plan-2'),
      withoutKey: await insert(orm, 'ord_9', 'acc_1', 'lin_1', null),
      // The entity's lookup by (account, key) finds each account's own order.
      lookups: [
        (await em.fork().findOne(ProductOrder, { billingAccountId: 'acc_1', idempotencyKey: 'change-plan-1' }))?.id,
        (await em.fork().findOne(ProductOrder, { billingAccountId: 'acc_2', idempotencyKey: 'change-plan-1' }))?.id,
      ],
    };
  } finally {
    await orm.close();
  }
}

function insert(orm: Orm, id: string, account: string, line: string, key: string | null): Promise<string> {
  return orm.em
    .fork()
    .getConnection()
    .execute(`insert into product_order (id, kind, status, billing_account_id, line_id, request, idempotency_key, created_at, updated_at) values (?, 'SUSPEND', 'COMPLETED', ?, ?, '{}', ?, ?, ?)`, [id, account, line, key, t0, t0])
    .then(
      () => 'inserted',
      // The index's name says `idempotency` (PostgreSQL names it, SQLite its columns): the resolver maps that to IDEMPOTENCY_KEY_REUSED.
      (e: Error) => (/unique/i.test(e.message) ? (e.message.includes('idempotency') ? 'unique violation' : `other unique violation: ${e.message}`) : e.message),
    );
}

function expectScoped(r: Awaited<ReturnType<typeof migrateWithOrders>>) {
  expect(r.rows).toEqual([
    ['ord_1', 'acc_1', 'change-plan-1'],
    ['ord_2', 'acc_1', 'dunning-inv_1:suspend:lin_1'],
    ['ord_3', 'acc_1', null],
    ['ord_4', 'acc_2', null],
    ['ord_5', 'acc_2', 'change-plan-2'],
  ]);
  expect(r).toMatchObject({ otherAccount: 'inserted', sameAccount: 'unique violation', sameAccountOtherKey: 'inserted', withoutKey: 'inserted', lookups: ['ord_1', 'ord_6'] });
}

describe('idempotency-key-per-account migration on a database holding orders', () => {
  it('PostgreSQL: keeps every order, scopes the unique key to the billing account', async () => {
    const schema = `t_idk_${Date.now().toString(36)}_subscribers`;
    try {
      expectScoped(await migrateWithOrders((list) => openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations: list })));
    } finally {
      await dropSchema(schema);
    }
  });

  it('SQLite: the same', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-subscribers-idk-'));
    try {
      expectScoped(await migrateWithOrders((list) => openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath: path.join(dir, 'subscribers.sqlite'), entities, migrations: list })));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
