import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Em, type Orm } from '@ledgerline/platform';
import { entities } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import { createCustomer } from '../src/application/create-customer';
import { openBillingAccount } from '../src/application/open-billing-account';
import { updateBillingAccount } from '../src/application/update-billing-account';
import { closeBillingAccount } from '../src/application/close-billing-account';

/**
 * `Migration20270131000000_billing_account_change` on both dialects subscribers runs on: the partner's trail
 * (`billing_account_partner_change`) moves into `billing_account_change` row for row (field PARTNER, seq and version
 * its partner_version, who, when, via), the old table is gone, and the next change of the account is numbered after.
 */
const TARGET = 'Migration20270131000000_billing_account_change';
const before = migrations.slice(0, migrations.findIndex((m) => m.name === TARGET));
const t0 = new Date('2027-01-30T08:00:00Z');
const t1 = new Date('2027-01-30T09:00:00Z');

async function migrate(open: (list: typeof migrations) => Promise<Orm>) {
  const old = await open(before);
  try {
    const c = old.em.fork().getConnection();
    await c.execute(`insert into customer (id, name, kind, notification_preferences, credit_class, locale, timezone, created_at) values ('cus_1', 'Old', 'INDIVIDUAL', '{}', 'A', 'en', 'UTC', ?)`, [t0]);
    for (const [id, parent, version] of [['acc_p', null, 2], ['acc_c', 'acc_p', 1], ['acc_none', null, 0]] as const) {
      await c.execute(`insert into billing_account (id, customer_id, parent_account_id, payment_mode, currency, bill_cycle_day, payment_terms_days, timezone, created_at, partner_id, partner_version) values (?, 'cus_1', ?, 'POSTPAID', 'EUR', 1, 14, 'UTC', ?, ?, ?)`, [id, parent, t0, version ? 'mvno-b' : null, version]);
    }
    const insert = `insert into billing_account_partner_change (id, billing_account_id, partner_version, previous_partner_id, partner_id, changed_by, changed_by_role, changed_at, via_account_id) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
    await c.execute(insert, ['evt_1', 'acc_p', 1, null, 'mvno-a', 'agent-7', 'AGENT', t0, null]);
    await c.execute(insert, ['evt_2', 'acc_p', 2, 'mvno-a', 'mvno-b', 'admin-2', 'ADMIN', t1, null]);
    await c.execute(insert, ['evt_3', 'acc_c', 1, null, 'mvno-b', 'admin-2', 'ADMIN', t1, 'acc_p']);
  } finally {
    await old.close();
  }
  const orm = await open(migrations);
  try {
    const c = orm.em.fork().getConnection();
    const rows = (await c.execute(`select id, billing_account_id, seq, field, old_value, new_value, version, changed_by, changed_by_role, via_account_id, request_key, reason from billing_account_change order by billing_account_id, seq`)) as Record<string, unknown>[];
    const times = (await c.execute(`select changed_at from billing_account_change order by billing_account_id, seq`)) as { changed_at: unknown }[];
    let oldTable = true;
    try {
      await c.execute(`select count(*) from billing_account_partner_change`);
    } catch {
      oldTable = false;
    }
    // The account's next row is numbered after the moved ones; a number taken twice is refused.
    const next = `insert into billing_account_change (id, billing_account_id, seq, field, old_value, new_value, changed_by, changed_by_role, changed_at) values (?, 'acc_p', ?, 'CREDIT_LIMIT', null, '500', 'agent-7', 'AGENT', ?)`;
    await c.execute(next, ['evt_4', 3, t1]);
    let duplicate = false;
    try {
      await c.execute(next, ['evt_5', 3, t1]);
    } catch {
      duplicate = true;
    }
    return { rows: rows.map((r) => ({ ...r, seq: Number(r.seq), version: r.version == null ? null : Number(r.version) })), times: times.map((t) => new Date(t.changed_at as string | number | Date).toISOString()), oldTable, duplicate };
  } finally {
    await orm.close();
  }
}

const row = (id: string, account: string, seq: number, from: string | null, to: string, by: string, role: string, via: string | null) => ({
  id,
  billing_account_id: account,
  seq,
  field: 'PARTNER',
  old_value: from,
  new_value: to,
  version: seq,
  changed_by: by,
  changed_by_role: role,
  via_account_id: via,
  request_key: null,
  reason: null,
});
const expected = {
  rows: [row('evt_3', 'acc_c', 1, null, 'mvno-b', 'admin-2', 'ADMIN', 'acc_p'), row('evt_1', 'acc_p', 1, null, 'mvno-a', 'agent-7', 'AGENT', null), row('evt_2', 'acc_p', 2, 'mvno-a', 'mvno-b', 'admin-2', 'ADMIN', null)],
  times: [t1, t0, t1].map((t) => t.toISOString()),
  oldTable: false,
  duplicate: true,
};

describe('billing-account-change migration', () => {
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

  it('SQLite (the zero-setup default): opening, changing and closing an account write its trail, no-ops nothing, never the token', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-subscribers-audit-'));
    const orm = await openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath: path.join(dir, 'subscribers.sqlite'), entities, migrations });
    try {
      const by = { subject: 'agent-7', role: 'AGENT' as const };
      const run = <T>(work: (em: Em) => Promise<T>) => orm.em.fork().transactional((em) => work(em as Em));
      const customer = await run((em) => createCustomer(em, { name: 'Lite', kind: 'INDIVIDUAL', now: t0 }));
      const account = await run((em) => openBillingAccount(em, { customerId: customer.id, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '500.00', autopayToken: 'tok_visa_4Xk29fLq', by, now: t0 }));
      await run((em) => updateBillingAccount(em, { billingAccountId: account.id, creditLimit: '5000', by, now: t1 }));
      await run((em) => updateBillingAccount(em, { billingAccountId: account.id, creditLimit: '5000.00', autopayToken: 'tok_visa_4Xk29fLq', by, now: t1 }));
      await run((em) => updateBillingAccount(em, { billingAccountId: account.id, autopayToken: null, by, now: t1 }));
      await run((em) => closeBillingAccount(em, { billingAccountId: account.id, reason: 'left', idempotencyKey: 'close-1', by, now: t1 }));
      const rows = (await orm.em.fork().getConnection().execute(`select * from billing_account_change where billing_account_id = ? order by seq`, [account.id])) as Record<string, unknown>[];
      expect(rows.map((r) => [Number(r.seq), r.field, r.old_value === null ? null : String(r.old_value).replace(/^sha256:.*/, 'fp'), r.new_value === null ? null : String(r.new_value).replace(/^sha256:.*/, 'fp'), r.changed_by])).toEqual([
        [1, 'STATUS', null, 'OPEN', 'agent-7'],
        [2, 'CREDIT_LIMIT', null, '500', 'agent-7'],
        [3, 'AUTOPAY', null, 'fp', 'agent-7'],
        [4, 'CREDIT_LIMIT', '500', '5000', 'agent-7'],
        [5, 'AUTOPAY', 'fp', null, 'agent-7'],
        [6, 'STATUS', 'OPEN', 'CLOSED', 'agent-7'],
      ]);
      expect(JSON.stringify(rows)).not.toContain('tok_');
    } finally {
      await orm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
