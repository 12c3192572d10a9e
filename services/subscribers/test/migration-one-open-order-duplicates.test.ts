import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { BillingAccount, Customer, entities, Line, ProductOrder, Subscription } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

/**
 * `Migration20261127000000_one_open_order_per_line` on a database that already holds what the old
 * race left behind (two open orders on a line, two SCHEDULED plan changes on a line): it keeps the
 * oldest of each (created_at, then id), fails the other orders with ORDER_ALREADY_OPEN, ends the
 * other scheduled subscriptions before they start (ENDED, ends_at = starts_at), tells the other
 * services through the outbox, and then creates its unique indexes. The schema is migrated up to
 * the migration before, seeded, then migrated to the end, on both dialects subscribers runs on.
 */
const TARGET = 'Migration20261127000000_one_open_order_per_line';
const before = migrations.slice(
  0,
  migrations.findIndex((m) => m.name === TARGET),
);
const t0 = new Date('2026-11-10T08:00:00Z');
const t1 = new Date('2026-11-11T08:00:00Z');
const cycleEnd = new Date('2026-12-01T00:00:00Z');

async function seed(orm: Orm): Promise<void> {
  const em = orm.em.fork();
  em.create(Customer, { id: 'cus_1', name: 'Dora Duplicate', kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '[]', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: t0 });
  await em.flush();
  em.create(BillingAccount, { id: 'acc_1', customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: t0 });
  await em.flush();
  for (const id of ['lin_1', 'lin_2']) em.create(Line, { id, billingAccountId: 'acc_1', msisdn: id === 'lin_1' ? '+4915100000001' : '+4915100000002', iccid: null, imsi: null, status: 'ACTIVE', planCode: 'POSTPAID_20GB', createdAt: t0, updatedAt: t0 });
  await em.flush();
  // Orders as rows of the old schema (the entity has columns later migrations add).
  const order = (id: string, lineId: string, status: string, createdAt: Date) =>
    em.getConnection().execute(`insert into product_order (id, kind, status, billing_account_id, line_id, request, created_at, updated_at) values (?, 'SUSPEND', ?, 'acc_1', ?, '{}', ?, ?)`, [id, status, lineId, createdAt, createdAt]);
  await order('ord_b', 'lin_1', 'IN_PROGRESS', t1); // newer: failed
  await order('ord_c', 'lin_1', 'ACKNOWLEDGED', t0); // as old as ord_a, larger id: failed
  await order('ord_a', 'lin_1', 'ACKNOWLEDGED', t0); // oldest (ties broken by id): kept
  await order('ord_done', 'lin_1', 'COMPLETED', t0); // closed: not counted, not touched
  await order('ord_z', 'lin_2', 'IN_PROGRESS', t1); // the only open order of its line
  const sub = (id: string, lineId: string, status: string, planCode: string, createdAt: Date) =>
    em.create(Subscription, { id, lineId, billingAccountId: 'acc_1', planCode, planVersionId: `plv_${planCode}`, status, sharedAllowances: false, addOns: '[]', startsAt: status === 'ACTIVE' ? t0 : cycleEnd, endsAt: status === 'ACTIVE' ? cycleEnd : null, createdAt });
  sub('sub_active', 'lin_1', 'ACTIVE', 'POSTPAID_20GB', t0);
  sub('sub_x', 'lin_1', 'SCHEDULED', 'FAMILY_SHARE_50GB', t1); // newer: cancelled
  sub('sub_y', 'lin_1', 'SCHEDULED', 'PREPAID_PAYG', t0); // oldest: kept
  sub('sub_w', 'lin_2', 'SCHEDULED', 'PREPAID_PAYG', t1); // alone on its line
  await em.flush();
}

async function outcome(orm: Orm) {
  const em = orm.em.fork();
  const orders = Object.fromEntries((await em.find(ProductOrder, {}, { orderBy: { id: 'asc' } })).map((o) => [o.id, { status: o.status, failureCode: o.failureCode ?? null, failureMessage: o.failureMessage ?? null }]));
  const subs = Object.fromEntries((await em.find(Subscription, {}, { orderBy: { id: 'asc' } })).map((s) => [s.id, { status: s.status, endsAt: s.endsAt?.toISOString() ?? null }]));
  const rows = (await em.getConnection().execute(`select subject, payload from outbox order by seq`)) as { subject: string; payload: string }[];
  const events = rows.map((r) => {
    const e = JSON.parse(r.payload);
    return { subject: r.subject, about: e.subject, status: e.data.status, failureCode: e.data.failureCode, endsAt: e.data.endsAt, time: e.time };
  });
  return { orders, subs, events };
}

async function migrateWithDuplicates(open: (list: typeof migrations) => Promise<Orm>) {
  const old = await open(before);
  try {
    await seed(old);
  } finally {
    await old.close();
  }
  const orm = await open(migrations); // runs the target migration
  try {
    const result = await outcome(orm);
    // The indexes exist now: a second open order on lin_1 is refused.
    const second = await orm.em
      .fork()
      .getConnection()
      .execute(`insert into product_order (id, kind, status, billing_account_id, line_id, request, created_at, updated_at) values ('ord_new', 'SUSPEND', 'ACKNOWLEDGED', 'acc_1', 'lin_1', '{}', ?, ?)`, [t1, t1])
      .then(
        () => 'inserted',
        (e: Error) => (/unique/i.test(e.message) ? 'unique violation' : e.message),
      );
    return { ...result, second };
  } finally {
    await orm.close();
  }
}

function expectResolved(r: Awaited<ReturnType<typeof migrateWithDuplicates>>) {
  expect(r.orders.ord_a).toEqual({ status: 'ACKNOWLEDGED', failureCode: null, failureMessage: null });
  for (const id of ['ord_b', 'ord_c']) {
    expect(r.orders[id]).toMatchObject({ status: 'FAILED', failureCode: 'ORDER_ALREADY_OPEN' });
    expect(r.orders[id]!.failureMessage).toContain('ord_a');
  }
  expect(r.orders.ord_done).toMatchObject({ status: 'COMPLETED', failureCode: null });
  expect(r.orders.ord_z).toMatchObject({ status: 'IN_PROGRESS', failureCode: null });
  expect(r.subs).toEqual({
    sub_active: { status: 'ACTIVE', endsAt: cycleEnd.toISOString() },
    sub_w: { status: 'SCHEDULED', endsAt: null },
    sub_x: { status: 'ENDED', endsAt: cycleEnd.toISOString() }, // ends as it would start: never in force
    sub_y: { status: 'SCHEDULED', endsAt: null },
  });
  // Line by line, oldest first.
  expect(r.events).toEqual([
    { subject: 'billing.subscribers.productorder.statechanged', about: 'ord_c', status: 'FAILED', failureCode: 'ORDER_ALREADY_OPEN', endsAt: undefined, time: expect.any(String) },
    { subject: 'billing.subscribers.productorder.statechanged', about: 'ord_b', status: 'FAILED', failureCode: 'ORDER_ALREADY_OPEN', endsAt: undefined, time: expect.any(String) },
    // At the time it would have started, so invoicing closes that segment before it begins.
    { subject: 'billing.subscribers.subscription.changed', about: 'sub_x', status: 'ENDED', failureCode: undefined, endsAt: cycleEnd.toISOString(), time: cycleEnd.toISOString() },
  ]);
  expect(r.second).toBe('unique violation');
}

describe('one-open-order migration on a database holding duplicates', () => {
  it('PostgreSQL: keeps the oldest, fails/cancels the rest, then creates the indexes', async () => {
    const schema = `t_mig_${Date.now().toString(36)}_subscribers`;
    try {
      expectResolved(await migrateWithDuplicates((list) => openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations: list })));
    } finally {
      await dropSchema(schema);
    }
  });

  it('SQLite: the same', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-subscribers-mig-'));
    try {
      expectResolved(await migrateWithDuplicates((list) => openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath: path.join(dir, 'subscribers.sqlite'), entities, migrations: list })));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
