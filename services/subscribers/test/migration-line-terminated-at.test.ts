import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainError } from '@ledgerline/contracts';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Em, type Orm } from '@ledgerline/platform';
import { assertNumberNotQuarantined } from '../src/application/number-quarantine';
import { entities, Line } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

/**
 * `Migration20270201000000_line_terminated_at` on both dialects subscribers runs on, with lines
 * terminated before it: each takes its quarantine from its real termination (the completion of its
 * TERMINATE order, not a later change of the row; without such an order, the row's last change),
 * a line still live has none, and a line cancelled while PENDING (its activation failed) releases
 * its number at once although it is terminated too.
 */
const TARGET = 'Migration20270201000000_line_terminated_at';
const before = migrations.slice(0, migrations.findIndex((m) => m.name === TARGET));
const t0 = new Date('2026-11-01T08:00:00Z');
const at = (iso: string) => new Date(iso);
const DAYS_90 = 90 * 86_400_000;

const MSISDN = { live: '+4915100000101', suspended: '+4915100000102', noOrder: '+4915100000103', pending: '+4915100000104', active: '+4915100000105' };
const LINE = `insert into line (id, billing_account_id, msisdn, status, created_at, updated_at) values (?, 'acc_old', ?, ?, ?, ?)`;
const ORDER = `insert into product_order (id, kind, status, billing_account_id, line_id, request, created_at, updated_at, completed_at) values (?, ?, ?, 'acc_old', ?, '{}', ?, ?, ?)`;

/** Seeds lines as the old schema held them, migrates, and answers each line's terminated_at and what another customer is told for its number. */
async function migrate(open: (list: typeof migrations) => Promise<Orm>) {
  const old = await open(before);
  try {
    const c = old.em.fork().getConnection();
    await c.execute(`insert into customer (id, name, kind, notification_preferences, credit_class, locale, timezone, created_at) values ('cus_old', 'Old', 'INDIVIDUAL', '{}', 'A', 'en', 'UTC', ?), ('cus_new', 'New', 'INDIVIDUAL', '{}', 'A', 'en', 'UTC', ?)`, [t0, t0]);
    await c.execute(`insert into billing_account (id, customer_id, payment_mode, currency, bill_cycle_day, payment_terms_days, timezone, created_at) values ('acc_old', 'cus_old', 'POSTPAID', 'EUR', 1, 14, 'UTC', ?), ('acc_new', 'cus_new', 'POSTPAID', 'EUR', 1, 14, 'UTC', ?)`, [t0, t0]);
    const order = (id: string, kind: string, status: string, lineId: string, when: Date) => c.execute(ORDER, [id, kind, status, lineId, when, when, status === 'COMPLETED' ? when : null]);

    // Went live, terminated on 11-20 (its TERMINATE order), the row touched again on 11-25 (a data fix).
    await c.execute(LINE, ['lin_live', MSISDN.live, 'TERMINATED', t0, at('2026-11-25T12:00:00Z')]);
    await order('ord_live_new', 'NEW_LINE', 'COMPLETED', 'lin_live', t0);
    await order('ord_live_term', 'TERMINATE', 'COMPLETED', 'lin_live', at('2026-11-20T10:00:00Z'));
    // Went live, suspended, then terminated on 11-22.
    await c.execute(LINE, ['lin_suspended', MSISDN.suspended, 'TERMINATED', t0, at('2026-11-22T10:00:00Z')]);
    await order('ord_susp_new', 'NEW_LINE', 'COMPLETED', 'lin_suspended', t0);
    await order('ord_susp_susp', 'SUSPEND', 'COMPLETED', 'lin_suspended', at('2026-11-05T10:00:00Z'));
    await order('ord_susp_term', 'TERMINATE', 'COMPLETED', 'lin_suspended', at('2026-11-22T10:00:00Z'));
    // Went live; terminated without a TERMINATE order on record: its last change, 11-18.
    await c.execute(LINE, ['lin_no_order', MSISDN.noOrder, 'TERMINATED', t0, at('2026-11-18T10:00:00Z')]);
    await order('ord_noord_new', 'NEW_LINE', 'COMPLETED', 'lin_no_order', t0);
    // Never went live (its activation failed), cancelled on 11-21.
    await c.execute(LINE, ['lin_pending', MSISDN.pending, 'TERMINATED', t0, at('2026-11-21T10:00:00Z')]);
    await order('ord_pend_new', 'NEW_LINE', 'FAILED', 'lin_pending', t0);
    await order('ord_pend_term', 'TERMINATE', 'COMPLETED', 'lin_pending', at('2026-11-21T10:00:00Z'));
    // Live.
    await c.execute(LINE, ['lin_active', MSISDN.active, 'ACTIVE', t0, t0]);
    await order('ord_act_new', 'NEW_LINE', 'COMPLETED', 'lin_active', t0);
  } finally {
    await old.close();
  }
  const orm = await open(migrations);
  try {
    const em = orm.em.fork() as Em;
    const lines = await em.find(Line, {}, { orderBy: { id: 'asc' } });
    const terminatedAt = Object.fromEntries(lines.map((l) => [l.id, l.terminatedAt ? new Date(l.terminatedAt).toISOString() : null]));
    // Another customer asks for each number on 11-30.
    const told: Record<string, string | null> = {};
    for (const [name, msisdn] of Object.entries(MSISDN)) {
      if (name === 'active') continue;
      try {
        await assertNumberNotQuarantined(orm.em.fork() as Em, { msisdn, customerId: 'cus_new', days: 90, now: at('2026-11-30T10:00:00Z') });
        told[name] = null;
      } catch (e) {
        if (!(e instanceof DomainError) || e.code !== 'MSISDN_QUARANTINED') throw e;
        told[name] = String(e.details.availableAt);
      }
    }
    return { terminatedAt, told };
  } finally {
    await orm.close();
  }
}

const in90 = (iso: string) => new Date(new Date(iso).getTime() + DAYS_90).toISOString();
const expected = {
  terminatedAt: {
    lin_active: null,
    lin_live: '2026-11-20T10:00:00.000Z',
    lin_no_order: '2026-11-18T10:00:00.000Z',
    lin_pending: '2026-11-21T10:00:00.000Z',
    lin_suspended: '2026-11-22T10:00:00.000Z',
  },
  told: {
    live: in90('2026-11-20T10:00:00Z'),
    suspended: in90('2026-11-22T10:00:00Z'),
    noOrder: in90('2026-11-18T10:00:00Z'),
    pending: null,
  },
};

describe('line-terminated-at migration', () => {
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
