import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, ManualClock, openDatabase, TEST_DATABASE_URL, type Orm, type TestService } from '@ledgerline/platform';
import { BillingAccount, CollectionsHold, Customer, entities, Line, ProductOrder } from '../src/persistence/entities';
import { migrations } from '../src/persistence/migrations';
import { DeferrableDispatcher, startHoldsService } from './holds-support';

/**
 * Collections holds: each unpaid invoice's dunning holds the account's lines; a line barred for
 * collections stays barred while any hold remains, and lifting the last one resumes it unless it
 * is suspended or barred for another reason. Placing and lifting are idempotent per key.
 * Orders are fulfilled in process, except where the test hands them over and fulfils them later
 * (as Temporal fulfilment does).
 */
let svc: TestService;
let dispatcher: DeferrableDispatcher;
// Every request a second later: which bar is a line's latest is read from the orders' times.
const clock = new ManualClock(new Date('2026-11-16T10:00:00Z'));
beforeAll(async () => {
  ({ svc, dispatcher } = await startHoldsService(clock));
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
  const customerId = (await ok(`mutation { createCustomer(input: { name: "Holly Hold", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer
    .id as string;
  const accountId = (
    await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, {
      c: customerId,
    })
  ).openBillingAccount.billingAccount.id as string;
  const ids: string[] = [];
  for (let i = 0; i < lines; i++) {
    const m = `+49151239${String(++msisdn).padStart(5, '0')}`;
    ids.push(
      (await ok(`mutation($a: ID!, $m: String!) { addLine(input: { billingAccountId: $a, msisdn: $m }) { line { id } } }`, { a: accountId, m })).addLine.line
        .id,
    );
  }
  return { customerId, accountId, lines: ids };
}

const PAYLOAD = `holds { holder line { id } barOrder { kind } liftedAt } lines { id status } waiting { id }`;
const place = (accountId: string, holder: string, key = `${holder}:suspend`) =>
  ok(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { ${PAYLOAD} } }`, {
    i: { billingAccountId: accountId, holder, reason: `${holder} unpaid`, idempotencyKey: key },
  }).then((d) => d.placeCollectionsHold);
const lift = (accountId: string, holder: string, key = `${holder}:restore`) =>
  ok(`mutation($i: CollectionsHoldInput!) { liftCollectionsHold(input: $i) { ${PAYLOAD} } }`, {
    i: { billingAccountId: accountId, holder, reason: `${holder} paid`, idempotencyKey: key },
  }).then((d) => d.liftCollectionsHold);
const statuses = async (ids: string[]) =>
  Promise.all(ids.map(async (id) => (await ok(`query($id: ID!) { line(id: $id) { status } }`, { id })).line.status as string));
const lineChange = (mutation: string, lineId: string, reason: string) =>
  ok(`mutation($i: LineChangeInput!) { ${mutation}(input: $i) { line { status } } }`, { i: { lineId, reason } });
const orderCount = async (lineId: string, kind: string) =>
  (await ok(`query($id: ID!) { line(id: $id) { orders { kind } } }`, { id: lineId })).line.orders.filter((o: { kind: string }) => o.kind === kind)
    .length as number;

describe('collections holds', () => {
  it('a line stays barred while any dunning holds it, whichever is lifted first', async () => {
    for (const order of [
      ['A', 'B'],
      ['B', 'A'],
    ] as const) {
      const { accountId, lines } = await account();
      const a = await place(accountId, 'dunning-inv_a');
      expect(a.lines.map((l: { status: string }) => l.status)).toEqual(['BARRED', 'BARRED']);
      const b = await place(accountId, 'dunning-inv_b');
      expect(b.lines, 'the second dunning bars nothing: the lines are already barred').toEqual([]);
      expect(b.holds.map((h: { barOrder: unknown }) => h.barOrder)).toEqual([null, null]);
      const held = (await ok(`query($id: ID!) { line(id: $id) { collectionsHolds { holder } } }`, { id: lines[0] })).line.collectionsHolds.map(
        (h: { holder: string }) => h.holder,
      );
      expect(held).toEqual(['dunning-inv_a', 'dunning-inv_b']);

      const first = await lift(accountId, `dunning-inv_${order[0].toLowerCase()}`);
      expect(first.lines).toEqual([]);
      expect(await statuses(lines), `lifting ${order[0]} first: ${order[1]} still holds the lines`).toEqual(['BARRED', 'BARRED']);
      const last = await lift(accountId, `dunning-inv_${order[1].toLowerCase()}`);
      expect(last.lines.map((l: { status: string }) => l.status)).toEqual(['ACTIVE', 'ACTIVE']);
      expect(await statuses(lines)).toEqual(['ACTIVE', 'ACTIVE']);
    }
  });

  it('never resumes a line suspended or barred for another reason, and holds it all the same', async () => {
    const { customerId, accountId, lines } = await account(3);
    const [mine, lost, fraud] = lines as [string, string, string];
    const r = await svc.request(
      `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } } }`,
      { i: { lineId: lost, reason: 'phone lost' } },
      { role: 'CUSTOMER', subject: 'holly', customerId, scopes: [] },
    );
    expect(r.errors).toBeUndefined();
    await lineChange('barLine', fraud, 'fraud');

    const placed = await place(accountId, 'dunning-inv_c');
    expect(placed.holds.map((h: { line: { id: string } }) => h.line.id).sort()).toEqual([...lines].sort());
    expect(placed.lines.map((l: { id: string }) => l.id)).toEqual([mine]);
    expect(await statuses(lines)).toEqual(['BARRED', 'SUSPENDED', 'BARRED']);

    const lifted = await lift(accountId, 'dunning-inv_c');
    expect(lifted.lines.map((l: { id: string }) => l.id)).toEqual([mine]);
    expect(await statuses(lines), 'the customer’s suspension and the fraud bar stay').toEqual(['ACTIVE', 'SUSPENDED', 'BARRED']);
  });

  it('an agent cannot resume a line the dunning holds (LINE_HELD_FOR_COLLECTIONS); lifting the hold resumes it', async () => {
    // Before, the agent's resume switched the line on while the debt was unpaid (and a fraud bar
    // placed after it was then the line's latest bar). See also collections-holds-refusals.test.ts.
    const { accountId, lines } = await account(1);
    await place(accountId, 'dunning-inv_d');
    const resumed = await svc.request(`mutation($i: LineChangeInput!) { resumeLine(input: $i) { line { status } } }`, { i: { lineId: lines[0]!, reason: 'goodwill' } });
    expect(resumed.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LINE_HELD_FOR_COLLECTIONS', field: 'input.lineId' });
    expect(await statuses(lines)).toEqual(['BARRED']);
    expect((await lift(accountId, 'dunning-inv_d')).lines.map((l: { status: string }) => l.status)).toEqual(['ACTIVE']);
  });

  it('is idempotent per key: placed or lifted twice has one effect, and a late retry of a lifted placement changes nothing', async () => {
    const { accountId, lines } = await account(1);
    const line = lines[0]!;
    await place(accountId, 'dunning-inv_e');
    const again = await place(accountId, 'dunning-inv_e');
    expect(again.holds).toHaveLength(1);
    expect(
      again.lines.map((l: { status: string }) => l.status),
      'the retry reports the bar of the first attempt',
    ).toEqual(['BARRED']);
    expect(await orderCount(line, 'BAR')).toBe(1);

    await lift(accountId, 'dunning-inv_e');
    const liftedAgain = await lift(accountId, 'dunning-inv_e');
    expect(liftedAgain.holds).toHaveLength(1);
    expect(await orderCount(line, 'RESUME')).toBe(1);

    // The first placement's request arrives once more, after the lift (a retry overtaken by events).
    const late = await place(accountId, 'dunning-inv_e');
    expect(late.lines).toEqual([]);
    expect(late.holds.every((h: { liftedAt: string | null }) => h.liftedAt)).toBe(true);
    expect(await statuses(lines)).toEqual(['ACTIVE']);
    expect(await orderCount(line, 'BAR')).toBe(1);

    // The same holder holds again under a new key (its dispute was lost): barred again.
    expect((await place(accountId, 'dunning-inv_e', 'dunning-inv_e:suspend-2')).lines.map((l: { status: string }) => l.status)).toEqual(['BARRED']);
    expect((await lift(accountId, 'dunning-inv_e', 'dunning-inv_e:restore-2')).lines.map((l: { status: string }) => l.status)).toEqual(['ACTIVE']);

    // A key used by one holder is not another's.
    const reused = await svc.request(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { holds { id } } }`, {
      i: { billingAccountId: accountId, holder: 'dunning-inv_other', idempotencyKey: 'dunning-inv_e:suspend' },
    });
    expect(reused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('holds neither PENDING nor TERMINATED lines; refuses bad input and callers who are not staff', async () => {
    const { customerId, accountId, lines } = await account(2);
    await lineChange('terminateLine', lines[1]!, 'ported out');
    dispatcher.defer = true;
    try {
      const pending = (
        await ok(`mutation($a: ID!) { addLine(input: { billingAccountId: $a, msisdn: "+4915123988888" }) { line { id status } } }`, { a: accountId })
      ).addLine.line;
      expect(pending.status).toBe('PENDING');
      dispatcher.defer = false;
      expect((await place(accountId, 'dunning-inv_f')).holds.map((h: { line: { id: string } }) => h.line.id)).toEqual([lines[0]]);
      dispatcher.queued.splice(0);
    } finally {
      dispatcher.defer = false;
    }
    const bad = await svc.request(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { holds { id } } }`, {
      i: { billingAccountId: accountId, holder: ' ', idempotencyKey: 'k' },
    });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.holder' });
    const missing = await svc.request(`mutation($i: CollectionsHoldInput!) { placeCollectionsHold(input: $i) { holds { id } } }`, {
      i: { billingAccountId: 'acc_nope', holder: 'h', idempotencyKey: 'k' },
    });
    expect(missing.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND' });
    const customer = await svc.request(
      `mutation($i: CollectionsHoldInput!) { liftCollectionsHold(input: $i) { holds { id } } }`,
      { i: { billingAccountId: accountId, holder: 'dunning-inv_f', idempotencyKey: 'mine' } },
      { role: 'CUSTOMER', subject: 'holly', customerId, scopes: [] },
    );
    expect(customer.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('a bar or resumption that must wait for another open order is made by a later call with the same key', async () => {
    const { customerId, accountId, lines } = await account(1);
    const line = lines[0]!;
    dispatcher.defer = true;
    try {
      // The customer's suspension is in flight: the line is about to change, so the hold waits.
      await svc.request(
        `mutation($i: LineChangeInput!) { suspendLine(input: $i) { order { id } } }`,
        { i: { lineId: line, reason: 'travelling' } },
        { role: 'CUSTOMER', subject: 'holly', customerId, scopes: [] },
      );
      const first = await place(accountId, 'dunning-inv_g');
      expect(first.waiting.map((l: { id: string }) => l.id)).toEqual([line]);
      await dispatcher.fulfil();
      expect((await place(accountId, 'dunning-inv_g')).waiting, 'suspended now: held as it is').toEqual([]);
      expect(await statuses(lines)).toEqual(['SUSPENDED']);
      // Held, the customer's suspension is not resumed by an agent; once lifted (it stays suspended), it is.
      await lift(accountId, 'dunning-inv_g');
      await lineChange('resumeLine', line, 'back home');
      await dispatcher.fulfil();

      // A new dunning bars the line; its bar is still on its way when another hold is lifted.
      const h = await place(accountId, 'dunning-inv_h');
      expect(h.lines.map((l: { status: string }) => l.status)).toEqual(['ACTIVE']); // BAR ordered, not fulfilled yet
      expect((await place(accountId, 'dunning-inv_g', 'dunning-inv_g:suspend-2')).lines, 'the bar is on its way: held, nothing more').toEqual([]);
      await lift(accountId, 'dunning-inv_g', 'dunning-inv_g:restore-2');
      const waiting = await lift(accountId, 'dunning-inv_h');
      expect(
        waiting.waiting.map((l: { id: string }) => l.id),
        'lifting now would leave the line barred once its bar is done',
      ).toEqual([line]);
      await dispatcher.fulfil();
      expect(await statuses(lines)).toEqual(['BARRED']);
      const done = await lift(accountId, 'dunning-inv_h');
      expect(done.waiting).toEqual([]);
      await dispatcher.fulfil();
      expect(await statuses(lines)).toEqual(['ACTIVE']);
    } finally {
      dispatcher.defer = false;
    }
  });
});

/**
 * Bars placed by the dunning worker before holds existed (key `dunning-<invoiceId>:suspend:<lineId>`)
 * become holds of that dunning, on both dialects, so a dunning running at deploy time still lifts them.
 */
describe('Migration20261128000000_collections_holds', () => {
  const now = new Date('2026-11-16T10:00:00Z');
  const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000);
  // Without it and the later ones on its table (they would find none): those run after the seeding.
  const before = migrations.filter((m) => m.name !== 'Migration20261128000000_collections_holds' && m.name !== 'Migration20261218000000_collections_hold_resume_order');

  async function seedOldBars(orm: Orm): Promise<void> {
    const em = orm.em.fork();
    em.create(Customer, {
      id: 'cus_1',
      name: 'Old Bars',
      kind: 'INDIVIDUAL',
      email: null,
      phone: null,
      notificationPreferences: '{}',
      creditClass: 'A',
      locale: 'en',
      timezone: 'UTC',
      createdAt: now,
    });
    await em.flush();
    em.create(BillingAccount, {
      id: 'acc_1',
      customerId: 'cus_1',
      parentAccountId: null,
      name: null,
      paymentMode: 'POSTPAID',
      currency: 'EUR',
      billCycleDay: 1,
      paymentTermsDays: 14,
      timezone: 'UTC',
      creditLimit: null,
      autopayToken: null,
      createdAt: now,
    });
    await em.flush();
    const lines: [string, string, [string, string, string | null, number][]][] = [
      // barred by dunning-inv_1: a hold
      ['lin_0001', 'BARRED', [['BAR', 'COMPLETED', 'dunning-inv_1:suspend:lin_0001', 1]]],
      // barred by dunning-inv_1, restored since: none
      [
        'lin_0002',
        'ACTIVE',
        [
          ['BAR', 'COMPLETED', 'dunning-inv_1:suspend:lin_0002', 1],
          ['RESUME', 'COMPLETED', 'dunning-inv_1:restore:lin_0002', 2],
        ],
      ],
      // dunning's bar lifted by an agent, then barred for fraud: none
      [
        'lin_0003',
        'BARRED',
        [
          ['BAR', 'COMPLETED', 'dunning-inv_1:suspend:lin_0003', 1],
          ['RESUME', 'COMPLETED', null, 2],
          ['BAR', 'COMPLETED', null, 3],
        ],
      ],
      // a dunning bar still on its way: a hold
      ['lin_0004', 'ACTIVE', [['BAR', 'IN_PROGRESS', 'dunning-inv_2:suspend:lin_0004', 1]]],
      // barred, its restoration on its way: none
      [
        'lin_0005',
        'BARRED',
        [
          ['BAR', 'COMPLETED', 'dunning-inv_1:suspend:lin_0005', 1],
          ['RESUME', 'ACKNOWLEDGED', 'dunning-inv_1:restore:lin_0005', 2],
        ],
      ],
      // some other key of the same shape: none
      ['lin_0006', 'BARRED', [['BAR', 'COMPLETED', 'fraud-1:suspend:lin_0006', 1]]],
    ];
    for (const [id, status] of lines)
      em.create(Line, {
        id,
        billingAccountId: 'acc_1',
        msisdn: `+49151000${id.slice(-4)}`,
        iccid: null,
        imsi: null,
        status,
        planCode: null,
        createdAt: now,
        updatedAt: now,
      });
    await em.flush();
    let n = 0;
    for (const [lineId, , orders] of lines) {
      for (const [kind, status, key, minute] of orders) {
        em.create(ProductOrder, {
          id: `ord_${String(++n).padStart(4, '0')}`,
          kind,
          status,
          billingAccountId: 'acc_1',
          lineId,
          request: '{}',
          idempotencyKey: key,
          requestHash: null,
          failureCode: null,
          failureMessage: null,
          createdAt: at(minute),
          updatedAt: at(minute),
          completedAt: status === 'COMPLETED' ? at(minute) : null,
        });
      }
    }
    await em.flush();
  }

  async function holds(orm: Orm) {
    const rows = await orm.em.fork().find(CollectionsHold, {}, { orderBy: { lineId: 'asc' } });
    return rows.map((h) => ({ lineId: h.lineId, holder: h.holder, placedKey: h.placedKey, barOrderId: h.barOrderId, liftedAt: h.liftedAt }));
  }
  const expected = [
    { lineId: 'lin_0001', holder: 'dunning-inv_1', placedKey: 'dunning-inv_1:suspend', barOrderId: 'ord_0001', liftedAt: null },
    { lineId: 'lin_0004', holder: 'dunning-inv_2', placedKey: 'dunning-inv_2:suspend', barOrderId: 'ord_0007', liftedAt: null },
  ];

  it('PostgreSQL', async () => {
    const schema = `t_hold_${Date.now().toString(36)}_subscribers`;
    let orm = await openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations: before });
    try {
      await seedOldBars(orm);
      await orm.close();
      orm = await openDatabase({ service: 'subscribers', databaseUrl: TEST_DATABASE_URL, schema, sqlitePath: '', entities, migrations });
      expect(await holds(orm)).toEqual(expected);
    } finally {
      await orm.close();
      await dropSchema(schema);
    }
  });

  it('SQLite', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ledgerline-holds-'));
    const sqlitePath = path.join(dir, 'subscribers.sqlite');
    let orm = await openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath, entities, migrations: before });
    try {
      await seedOldBars(orm);
      await orm.close();
      orm = await openDatabase({ service: 'subscribers', schema: 'subscribers', sqlitePath, entities, migrations });
      expect(await holds(orm)).toEqual(expected);
      // The partial unique index: one hold per holder and line while it lasts.
      const em = orm.em.fork();
      em.create(CollectionsHold, {
        id: 'hld_dup',
        lineId: 'lin_0001',
        billingAccountId: 'acc_1',
        holder: 'dunning-inv_1',
        reason: null,
        placedKey: 'k2',
        barOrderId: null,
        placedAt: now,
        liftedKey: null,
        liftedAt: null,
      });
      await expect(em.flush()).rejects.toThrow(/UNIQUE|unique/);
    } finally {
      await orm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
