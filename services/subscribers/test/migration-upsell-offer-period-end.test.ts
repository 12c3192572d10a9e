import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { closeUpsellOffer } from '../src/application/upsell';
import { entities, UpsellOffer } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

/**
 * `Migration20270124000000_upsell_offer_period_end` on both dialects subscribers runs on: an offer
 * stored before it has no period end and keeps its deadline (it is still open after the end of the
 * period it was made in, and closes at its deadline, as before); an offer stored after it keeps its
 * period's end.
 */
const TARGET = 'Migration20270124000000_upsell_offer_period_end';
const before = migrations.slice(0, migrations.findIndex((m) => m.name === TARGET));
const t0 = new Date('2026-11-20T09:00:00Z');
const deadline = new Date('2026-11-23T09:00:00Z');
const OFFER = `insert into upsell_offer (id, line_id, billing_account_id, offer_code, offer_name, price, currency, period, rule, state, expires_at, created_at)
  values (?, 'lin_1', 'acc_1', 'DATA_BOOST_5GB', 'Data Boost 5 GB', '5.0000', 'EUR', '2026-10-20', 'offer-data-boost-at-80', 'PRESENTED', ?, ?)`;

async function migrate(open: (list: typeof migrations) => Promise<Orm>) {
  const old = await open(before);
  try {
    const c = old.em.fork().getConnection();
    await c.execute(`insert into customer (id, name, kind, notification_preferences, credit_class, locale, timezone, created_at) values ('cus_1', 'Old', 'INDIVIDUAL', '{}', 'A', 'en', 'UTC', ?)`, [t0]);
    await c.execute(`insert into billing_account (id, customer_id, payment_mode, currency, bill_cycle_day, payment_terms_days, timezone, created_at) values ('acc_1', 'cus_1', 'POSTPAID', 'EUR', 1, 14, 'UTC', ?)`, [t0]);
    await c.execute(`insert into line (id, billing_account_id, msisdn, status, created_at, updated_at) values ('lin_1', 'acc_1', '+491701234500', 'ACTIVE', ?, ?)`, [t0, t0]);
    await c.execute(OFFER, ['upo_old', deadline, t0]);
  } finally {
    await old.close();
  }
  const orm = await open(migrations);
  try {
    const em = orm.em.fork();
    await em.getConnection().execute(OFFER.replace('expires_at, created_at)', 'expires_at, created_at, period_end)').replace('?, ?)', '?, ?, ?)'), ['upo_new', new Date('2026-11-21T08:00:00Z'), t0, new Date('2026-11-21T08:00:00Z')]);
    const read = async () => (await em.fork().find(UpsellOffer, {}, { orderBy: { id: 'asc' } })).map((o) => ({ id: o.id, state: o.state, periodEnd: o.periodEnd?.toISOString() ?? null }));
    const stored = await read();
    // After the old offer's period has ended (as far as anyone knows: it has no period end) and before its deadline: still open.
    const midway = await em.fork().transactional((tx) => closeUpsellOffer(tx, { offerId: 'upo_old', now: new Date('2026-11-22T09:00:00Z') }));
    const atDeadline = await em.fork().transactional((tx) => closeUpsellOffer(tx, { offerId: 'upo_old', now: deadline }));
    return { stored, midway: midway.state, atDeadline: atDeadline.state };
  } finally {
    await orm.close();
  }
}

const expected = {
  stored: [
    { id: 'upo_new', state: 'PRESENTED', periodEnd: '2026-11-21T08:00:00.000Z' },
    { id: 'upo_old', state: 'PRESENTED', periodEnd: null },
  ],
  midway: 'PRESENTED',
  atDeadline: 'EXPIRED',
};

describe('upsell-offer-period-end migration', () => {
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
