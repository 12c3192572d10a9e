import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropSchema, openDatabase, TEST_DATABASE_URL, type Orm } from '@ledgerline/platform';
import { flushOrder } from '../src/application/line-orders';
import { BillingAccount, Customer, entities, Line, ProductOrder, Subscription } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';

/**
 * The partial unique indexes behind "one open order and one scheduled plan change per line"
 * (the use cases check and lock first; these catch whatever gets past them), on both dialects the
 * migrations support, and the coded CONFLICT a violation becomes. Rows are written directly,
 * past every check, as a racing request would.
 */
const now = new Date('2026-11-16T10:00:00Z');

async function seed(orm: Orm): Promise<void> {
  const em = orm.em.fork();
  em.create(Customer, { id: 'cus_1', name: 'Ida Index', kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '[]', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: now });
  await em.flush();
  em.create(BillingAccount, { id: 'acc_1', customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: now });
  await em.flush();
  em.create(Line, { id: 'lin_1', billingAccountId: 'acc_1', msisdn: '+4915100000001', iccid: null, imsi: null, status: 'ACTIVE', planCode: null, createdAt: now, updatedAt: now });
  await em.flush();
}

const order = (id: string, status: string) => ({ id, kind: 'SUSPEND', status, billingAccountId: 'acc_1', lineId: 'lin_1', request: '{}', idempotencyKey: null, requestHash: null, failureCode: null, failureMessage: null, createdAt: now, updatedAt: now, completedAt: null });
const scheduled = (id: string) => ({ id, lineId: 'lin_1', billingAccountId: 'acc_1', planCode: 'POSTPAID_20GB', planVersionId: 'plv_1', status: 'SCHEDULED', sharedAllowances: false, addOns: '[]', startsAt: now, endsAt: null, createdAt: now });

/** What writing the rows in one transaction answers: 'ok' or the error's code. */
async function write(orm: Orm, rows: (em: Orm['em']) => void): Promise<string> {
  try {
    await orm.em.fork().transactional(async (em) => {
      rows(em as Orm['em']);
      await flushOrder(em as never);
    });
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

async function answers(orm: Orm): Promise<Record<string, string>> {
  await seed(orm);
  return {
    twoOpenOrders: await write(orm, (em) => {
      em.create(ProductOrder, order('ord_1', 'ACKNOWLEDGED'));
      em.create(ProductOrder, order('ord_2', 'IN_PROGRESS'));
    }),
    openAfterClosed: await write(orm, (em) => {
      em.create(ProductOrder, order('ord_3', 'COMPLETED'));
      em.create(ProductOrder, order('ord_4', 'FAILED'));
      em.create(ProductOrder, order('ord_5', 'ACKNOWLEDGED'));
    }),
    secondOpenOrder: await write(orm, (em) => void em.create(ProductOrder, order('ord_6', 'ACKNOWLEDGED'))),
    twoScheduledChanges: await write(orm, (em) => {
      em.create(Subscription, scheduled('sub_1'));
      em.create(Subscription, scheduled('sub_2'));
    }),
  };
}

const expected = { twoOpenOrders: 'ORDER_ALREADY_OPEN', openAfterClosed: 'ok', secondOpenOrder: 'ORDER_ALREADY_OPEN', twoScheduledChanges: 'PLAN_CHANGE_ALREADY_SCHEDULED' };

describe('one open order and one scheduled change per line, backed by unique indexes', () => {
  it('PostgreSQL: a second open order or scheduled change is the coded CONFLICT; closed orders do not count', async () => {
    const schema = `t_idx_${Date.now().toString(36)}_subscribers`;
    const orm = await openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations });
    try {
      expect(await answers(orm)).toEqual(expected);
    } finally {
      await orm.close();
      await dropSchema(schema);
    }
  });

  it('SQLite: the same migrations and the same answers', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-subscribers-'));
    const orm = await openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath: path.join(dir, 'subscribers.sqlite'), entities, migrations });
    try {
      expect(await answers(orm)).toEqual(expected);
    } finally {
      await orm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
