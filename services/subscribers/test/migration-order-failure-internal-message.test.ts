import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

/**
 * `Migration20270203000000_order_failure_internal_message` on orders failed in the shapes the code before 29afab9
 * stored: an internal error's raw text (PostgreSQL's, a driver's address with its password) as the order's
 * failureMessage, which its customer reads, and quoted in the reason of the upsell offer that placed it. Those say
 * "internal error (recorded before references were kept)"; coded refusals, timeouts, ended fulfilments, failOrder's
 * default and the new code's references are left as they were; a second run changes nothing.
 */
const TARGET = 'Migration20270203000000_order_failure_internal_message';
const before = migrations.filter((m) => m.name !== TARGET);
const t0 = new Date('2026-11-01T08:00:00Z');
const LEAK = 'connect ECONNREFUSED 10.20.0.9:3868 (hlr://provisioner:s3cret@hlr-db)';
const PG = 'update "subscribers"."line" set "status" = \'ACTIVE\' where "id" = \'lin_x\' - new row for relation "line" violates check constraint "line_status_check"';
const FIXED = 'internal error (recorded before references were kept)';
const REFERENCE = 'internal error (reference 3f1c2a4e-0b7d-4c55-9e1a-2f6d8c9b0a11)';

/** [order id, kind, failure_code, failure_message] as the code before stored them. */
const OLD: [string, string, string, string][] = [
  ['ord_saga_pg', 'NEW_LINE', 'PROVISIONING_FAILED', PG], // the saga: completion refused by PostgreSQL
  ['ord_saga_driver', 'ADD_ON', 'PROVISIONING_FAILED', LEAK], // the saga: the driver's error
  ['ord_wf_error', 'NEW_LINE', 'Error', `provisioning system unavailable (${LEAK})`], // the workflow: an activity's uncoded Error
  ['ord_wf_orm', 'PLAN_CHANGE', 'CheckConstraintViolationException', PG], // the workflow: the ORM's exception
  ['ord_wf_untyped', 'NEW_LINE', 'ORDER_FAILED', `Error: ${LEAK}`], // the workflow: an untyped failure
  ['ord_wf_internal', 'NEW_LINE', 'INTERNAL_SERVER_ERROR', PG], // the workflow gave up on subscribers' internal error
  ['ord_refused', 'ADD_ON', 'PROVISIONING_SIM_UNKNOWN', 'The network refused ADD_ON for +4915100000301'],
  ['ord_timeout', 'NEW_LINE', 'PROVISIONING_TIMEOUT', 'The provisioning system did not answer within 10000 ms'],
  ['ord_ended', 'NEW_LINE', 'ORDER_FULFILMENT_ENDED', 'The order was not carried out: its fulfilment ended (TERMINATED) before it started'],
  ['ord_default', 'SUSPEND', 'ORDER_FAILED', 'The order failed'],
  ['ord_new', 'NEW_LINE', 'PROVISIONING_FAILED', REFERENCE], // the new code's
  ['ord_balance', 'ADD_ON', 'WALLET_INSUFFICIENT_BALANCE', 'Balance 1.0000 EUR is below 5.0000 EUR'],
];
const reasonOf = (id: string, code: string, message: string) => `Order ${id} failed: ${code}: ${message}`.slice(0, 200);

type Row = { id: string; failure_code: string; failure_message: string };
async function read(orm: Orm) {
  const c = orm.em.fork().getConnection();
  const orders = (await c.execute(`select id, failure_code, failure_message from product_order order by id`)) as Row[];
  const offers = (await c.execute(`select id, reason from upsell_offer order by id`)) as { id: string; reason: string }[];
  return { orders: Object.fromEntries(orders.map((o) => [o.id, [o.failure_code, o.failure_message]])), offers: Object.fromEntries(offers.map((o) => [o.id, o.reason])) };
}

async function migrate(open: (list: typeof migrations) => Promise<Orm>) {
  const old = await open(before);
  try {
    const c = old.em.fork().getConnection();
    await c.execute(`insert into customer (id, name, kind, notification_preferences, credit_class, locale, timezone, created_at) values ('cus_old', 'Old', 'INDIVIDUAL', '{}', 'A', 'en', 'UTC', ?)`, [t0]);
    await c.execute(`insert into billing_account (id, customer_id, payment_mode, currency, bill_cycle_day, payment_terms_days, timezone, created_at) values ('acc_old', 'cus_old', 'POSTPAID', 'EUR', 1, 14, 'UTC', ?)`, [t0]);
    for (const [i, [id, kind, code, message]] of OLD.entries()) {
      const lineId = `lin_${i}`;
      await c.execute(`insert into line (id, billing_account_id, msisdn, status, created_at, updated_at) values (?, 'acc_old', ?, 'PENDING', ?, ?)`, [lineId, `+49151000003${String(i).padStart(2, '0')}`, t0, t0]);
      await c.execute(
        `insert into product_order (id, kind, status, billing_account_id, line_id, request, created_at, updated_at, failure_code, failure_message, saga_compensate, network_undone_at) values (?, ?, 'FAILED', 'acc_old', ?, '{}', ?, ?, ?, ?, false, ?)`,
        [id, kind, lineId, t0, t0, code, message, t0],
      );
    }
    // Offers whose acceptance placed an ADD_ON that failed: FAILED with the order's failure, one declined since.
    const OFFER = `insert into upsell_offer (id, line_id, billing_account_id, offer_code, offer_name, price, currency, period, rule, state, reason, expires_at, order_id, created_at) values (?, ?, 'acc_old', 'BOOST_5GB', 'Data Boost 5 GB', '5.0000', 'EUR', '2026-11-01', 'r', ?, ?, ?, ?, ?)`;
    await c.execute(OFFER, ['upo_driver', 'lin_1', 'FAILED', reasonOf('ord_saga_driver', 'PROVISIONING_FAILED', LEAK), t0, 'ord_saga_driver', t0]);
    await c.execute(OFFER, ['upo_refused', 'lin_6', 'DECLINED', reasonOf('ord_refused', 'PROVISIONING_SIM_UNKNOWN', 'The network refused ADD_ON for +4915100000301'), t0, 'ord_refused', t0]);
    await c.execute(OFFER, ['upo_balance', 'lin_11', 'FAILED', reasonOf('ord_balance', 'WALLET_INSUFFICIENT_BALANCE', 'Balance 1.0000 EUR is below 5.0000 EUR'), t0, 'ord_balance', t0]);
  } finally {
    await old.close();
  }
  const orm = await open(migrations);
  try {
    const first = await read(orm);
    // Run again on the migrated rows: nothing changes.
    const target = migrations.find((m) => m.name === TARGET);
    if (!target) return { first, again: null };
    const Again = target.class as new (...args: unknown[]) => { up(): Promise<void> | void };
    await new Again(orm.em.getDriver(), orm.config).up();
    return { first, again: await read(orm) };
  } finally {
    await orm.close();
  }
}

const expectedOrders = {
  ord_saga_pg: ['PROVISIONING_FAILED', FIXED],
  ord_saga_driver: ['PROVISIONING_FAILED', FIXED],
  ord_wf_error: ['PROVISIONING_FAILED', FIXED],
  ord_wf_orm: ['PROVISIONING_FAILED', FIXED],
  ord_wf_untyped: ['ORDER_FAILED', FIXED],
  ord_wf_internal: ['INTERNAL_SERVER_ERROR', FIXED],
  ord_refused: ['PROVISIONING_SIM_UNKNOWN', 'The network refused ADD_ON for +4915100000301'],
  ord_timeout: ['PROVISIONING_TIMEOUT', 'The provisioning system did not answer within 10000 ms'],
  ord_ended: ['ORDER_FULFILMENT_ENDED', 'The order was not carried out: its fulfilment ended (TERMINATED) before it started'],
  ord_default: ['ORDER_FAILED', 'The order failed'],
  ord_new: ['PROVISIONING_FAILED', REFERENCE],
  ord_balance: ['WALLET_INSUFFICIENT_BALANCE', 'Balance 1.0000 EUR is below 5.0000 EUR'],
};
const expectedOffers = {
  upo_balance: reasonOf('ord_balance', 'WALLET_INSUFFICIENT_BALANCE', 'Balance 1.0000 EUR is below 5.0000 EUR'),
  upo_driver: `Order ord_saga_driver failed: PROVISIONING_FAILED: ${FIXED}`,
  upo_refused: reasonOf('ord_refused', 'PROVISIONING_SIM_UNKNOWN', 'The network refused ADD_ON for +4915100000301'),
};

async function check(open: (list: typeof migrations) => Promise<Orm>) {
  const { first, again } = await migrate(open);
  expect(first.orders).toEqual(expectedOrders);
  expect(first.offers).toEqual(expectedOffers);
  expect(JSON.stringify(first)).not.toContain('s3cret');
  expect(JSON.stringify(first)).not.toContain('violates check constraint');
  expect(again).toEqual(first);
}

describe('order-failure-internal-message migration', () => {
  it('PostgreSQL: old orders failed by an internal error tell a fixed text, not the error; coded failures kept; idempotent', async () => {
    const schema = `t_mig_${Date.now().toString(36)}_subscribers`;
    try {
      await check((list) => openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations: list }));
    } finally {
      await dropSchema(schema);
    }
  });

  it('SQLite: the same', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-subscribers-mig-'));
    try {
      await check((list) => openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath: path.join(dir, 'subscribers.sqlite'), entities, migrations: list }));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
