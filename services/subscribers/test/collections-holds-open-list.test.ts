import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, openDatabase, type Em, type TestService } from '@ledgerline/platform';
import { listOpenCollectionsHolds } from '../src/application/collections-holds';
import { BillingAccount, CollectionsHold, Customer, entities, Line } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import { startHoldsService } from './holds-support';

/**
 * `openCollectionsHolds`: the holds still in force on any line, for staff work lists and for the
 * worker's reconciliation of holds whose dunning ended without lifting them (it lists the
 * `dunning-` holders, asks Temporal about each, and lifts the orphans). Lifted holds are not
 * listed; pages follow the Relay connection style; customers may not list them.
 */
let svc: TestService;
const clock = new ManualClock(new Date('2026-11-16T10:00:00Z'));
beforeAll(async () => {
  ({ svc } = await startHoldsService(clock));
});
afterAll(() => svc?.close());

async function ok(q: string, v: Record<string, unknown> = {}) {
  clock.advance(1000);
  const r = await svc.request(q, v);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

let msisdn = 0;
async function account(lines = 2) {
  const customerId = (await ok(`mutation { createCustomer(input: { name: "Lister Open", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id as string;
  const accountId = (
    await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId })
  ).openBillingAccount.billingAccount.id as string;
  const ids: string[] = [];
  for (let i = 0; i < lines; i++) {
    const m = `+49151241${String(++msisdn).padStart(5, '0')}`;
    ids.push((await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } } }`, { a: accountId, m })).addLine.line.id);
  }
  return { customerId, accountId, lines: ids };
}
const hold = (mutation: 'placeCollectionsHold' | 'liftCollectionsHold', accountId: string, holder: string, key: string) =>
  ok(`mutation($i: CollectionsHoldInput!) { ${mutation}(input: $i) { holds { id } } }`, { i: { billingAccountId: accountId, holder, reason: holder, idempotencyKey: key } });

interface Node {
  id: string;
  holder: string;
  placedAt: string;
  liftedAt: string | null;
  line: { id: string };
  billingAccount: { id: string };
}
const LIST = `query($first: Int, $after: String, $f: CollectionsHoldFilter) {
  openCollectionsHolds(first: $first, after: $after, filter: $f) {
    edges { cursor node { id holder placedAt liftedAt line { id } billingAccount { id } } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}`;
async function listAll(filter: Record<string, unknown> | null, first: number) {
  const nodes: Node[] = [];
  const pages: number[] = [];
  let after: string | null = null;
  for (;;) {
    const page: { edges: { node: Node }[]; pageInfo: { hasNextPage: boolean; endCursor: string }; totalCount: number } = (await ok(LIST, { first, after, f: filter })).openCollectionsHolds;
    nodes.push(...page.edges.map((e) => e.node));
    pages.push(page.edges.length);
    if (!page.pageInfo.hasNextPage) return { nodes, pages, totalCount: page.totalCount };
    after = page.pageInfo.endCursor;
  }
}

describe('openCollectionsHolds', () => {
  it('lists the holds still in force, with their account, page by page; lifted ones and other holders are left out by the filter', async () => {
    const a = await account(2);
    const b = await account(1);
    await hold('placeCollectionsHold', a.accountId, 'dunning-inv_open_a', 'dunning-inv_open_a:suspend');
    await hold('placeCollectionsHold', b.accountId, 'dunning-inv_open_b', 'dunning-inv_open_b:suspend');
    await hold('placeCollectionsHold', b.accountId, 'agent-ops', 'agent-ops:hold-1');
    await hold('placeCollectionsHold', a.accountId, 'dunning-inv_paid', 'dunning-inv_paid:suspend');
    await hold('liftCollectionsHold', a.accountId, 'dunning-inv_paid', 'dunning-inv_paid:restore');

    const all = await listAll(null, 3);
    expect(all.pages, 'four open holds, three a page').toEqual([3, 1]);
    expect(all.totalCount).toBe(4);
    expect(new Set(all.nodes.map((n) => n.id)).size).toBe(4);
    expect(all.nodes.every((n) => n.liftedAt === null)).toBe(true);

    const dunning = await listAll({ holderPrefix: 'dunning-' }, 50);
    expect(dunning.totalCount).toBe(3);
    const seen = dunning.nodes.map((n) => `${n.holder} ${n.billingAccount.id} ${n.line.id}`).sort();
    expect(seen).toEqual(
      [
        `dunning-inv_open_a ${a.accountId} ${a.lines[0]}`,
        `dunning-inv_open_a ${a.accountId} ${a.lines[1]}`,
        `dunning-inv_open_b ${b.accountId} ${b.lines[0]}`,
      ].sort(),
    );
    expect(dunning.nodes.every((n) => !Number.isNaN(Date.parse(n.placedAt)))).toBe(true);

    // A prefix is matched literally and with its case (`_` and `%` are no wildcards).
    expect((await listAll({ holderPrefix: 'dunning-inv_open_' }, 50)).totalCount).toBe(3);
    expect((await listAll({ holderPrefix: 'dunning-inv%' }, 50)).totalCount).toBe(0);
    expect((await listAll({ holderPrefix: 'DUNNING-' }, 50)).totalCount).toBe(0);
  });

  it('is for staff: a customer is refused', async () => {
    const a = await account(1);
    const r = await svc.request(LIST, { first: 10 }, { role: 'CUSTOMER', subject: 'lister', customerId: a.customerId, scopes: [] });
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('openCollectionsHolds on SQLite', () => {
  it('takes the prefix literally and with its case there too (SQLite’s LIKE would not)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-open-holds-'));
    const orm = await openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath: path.join(dir, 'subscribers.sqlite'), entities, migrations });
    try {
      const at = new Date('2026-11-16T10:00:00Z');
      const em = orm.em.fork() as Em;
      em.create(Customer, { id: 'cus_1', name: 'Lite', kind: 'INDIVIDUAL', email: null, phone: null, notificationPreferences: '{}', creditClass: 'A', locale: 'en', timezone: 'UTC', createdAt: at });
      await em.flush(); // rows in foreign-key order
      em.create(BillingAccount, { id: 'acc_1', customerId: 'cus_1', parentAccountId: null, name: null, paymentMode: 'POSTPAID', currency: 'EUR', billCycleDay: 1, paymentTermsDays: 14, timezone: 'UTC', creditLimit: null, autopayToken: null, createdAt: at });
      await em.flush();
      em.create(Line, { id: 'lin_1', billingAccountId: 'acc_1', msisdn: '+4915100000001', iccid: null, imsi: null, status: 'BARRED', planCode: null, createdAt: at, updatedAt: at });
      await em.flush();
      const hold = (id: string, holder: string, liftedAt: Date | null) =>
        em.create(CollectionsHold, { id, lineId: 'lin_1', billingAccountId: 'acc_1', holder, reason: null, placedKey: `${holder}:suspend`, barOrderId: null, placedAt: at, liftedKey: liftedAt ? `${holder}:restore` : null, liftedAt });
      hold('hld_1', 'dunning-inv_1', null);
      hold('hld_2', 'DUNNING-inv_2', null);
      hold('hld_3', 'dunningXinv_3', null);
      hold('hld_4', 'dunning-inv_4', at);
      hold('hld_5', 'dunning-inv_5', null);
      await em.flush();
      const list = (holderPrefix: string | null, after: string | null = null, limit = 10) => listOpenCollectionsHolds(orm.em.fork() as Em, { holderPrefix, after, limit });
      const ids = async (p: ReturnType<typeof list>) => (await p).rows.map((h) => h.id);
      expect(await ids(list('dunning-'))).toEqual(['hld_1', 'hld_5']);
      expect(await ids(list('dunning_'))).toEqual([]);
      expect(await ids(list(null))).toEqual(['hld_1', 'hld_2', 'hld_3', 'hld_5']);
      expect(await list('dunning-', 'hld_1', 1)).toMatchObject({ totalCount: 2, rows: [{ id: 'hld_5' }] });
    } finally {
      await orm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
