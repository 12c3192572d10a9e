// When a plan's one-off fees fall due around an END_OF_CYCLE plan change (follows review 8,
// `review8-plan-fee-timing.test.ts`): the new plan's PLAN_CHANGE fee when it starts (exactly
// once, however often the sweep runs), and the TERMINATION / SIM_REPLACEMENT fee of the plan in
// force when the order completes, even if the sweep has not yet started the scheduled plan; the
// catalog is read before the line is locked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Em } from '@ledgerline/platform';
import { luhnValid } from '../src/domain/validation';
import { LINE_FIELDS, ORDER_FIELDS, startHarness, type FileCatalog, type Harness } from './support';
import { gqlOn, openAccount, publishPlan } from './plan-fees-support';

let h: Harness;
let catalog: FileCatalog;
beforeAll(async () => {
  h = await startHarness();
  catalog = h.catalogClient as FileCatalog;
  publishPlan(h, 'POSTPAID_20GB', 'TIMING_DEAR', 'Timing Dear', '39.99', [
    { code: 'ETF_DEAR', name: 'Dear termination fee', amount: '25.00', trigger: 'TERMINATION' },
    { code: 'SIM_DEAR', name: 'Dear SIM', amount: '10.00', trigger: 'SIM_REPLACEMENT' },
  ]);
  publishPlan(h, 'POSTPAID_20GB', 'TIMING_CHEAP', 'Timing Cheap', '29.99', [
    { code: 'SWITCH_CHEAP', name: 'Switch fee', amount: '7.50', trigger: 'PLAN_CHANGE' },
    { code: 'ETF_CHEAP', name: 'Cheap termination fee', amount: '50.00', trigger: 'TERMINATION' },
    { code: 'SIM_CHEAP', name: 'Cheap SIM', amount: '15.00', trigger: 'SIM_REPLACEMENT' },
  ]);
});
afterAll(async () => {
  await h?.close();
});

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}) => gqlOn<T>(h, query, variables);

const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { line { ${LINE_FIELDS} } order { ${ORDER_FIELDS} } preview { timing effectiveAt } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const REPLACE = `mutation($i: ReplaceSimInput!) { replaceSim(input: $i) { line { id iccid } order { ${ORDER_FIELDS} } } }`;
const STEP = (name: string) => `mutation($i: OrderStepInput!) { ${name}(input: $i) { order { status failureCode } } }`;

let n = 0;
const msisdn = () => `+4915129${String(700000 + n++).padStart(6, '0')}`;
let serial = 0;
const RUN = String(Date.now() % 1_000_000).padStart(6, '0');
function iccid(): string {
  const body = `894902${RUN}${String(serial++).padStart(6, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return `${body}${d}`;
  throw new Error('unreachable');
}

async function line(planCode: string | null = 'TIMING_DEAR') {
  h.clock.set('2026-11-16T10:00:00Z');
  const { accountId } = await openAccount(h, 'POSTPAID', 'Fee Timing', 'timing@example.org');
  const number = msisdn();
  const added = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: number, iccid: iccid(), ...(planCode ? { planCode } : {}) } })).addLine;
  expect(added.order.status).toBe('COMPLETED');
  return { lineId: added.line.id as string, msisdn: number };
}

/** A downgrade placed on 20 Nov: END_OF_CYCLE, the cheap plan starts 1 Dec 00:00 Berlin (23:00Z). */
async function downgrade(lineId: string) {
  h.clock.set('2026-11-20T09:00:00Z');
  const changed = (await gql(CHANGE, { i: { lineId, planCode: 'TIMING_CHEAP', idempotencyKey: `timing-change-${lineId}` } })).changePlan;
  expect(changed.order.status).toBe('COMPLETED');
  expect(changed.preview.timing).toBe('END_OF_CYCLE');
  return changed.order.id as string;
}

interface ChargeRow {
  id: string;
  reason: string;
  amount: string;
  order_id: string;
  subscription_id: string | null;
  description: string;
  charged_at: Date;
}
const charges = (lineId: string) =>
  h.rows<ChargeRow>(
    `select id, reason, amount::text as amount, order_id, subscription_id, description, charged_at from one_off_charge where line_id = $1 and reason <> 'ACTIVATION_FEE' order by charged_at, id`,
    [lineId],
  );
const chargeEvents = async (lineId: string) =>
  (await h.rows<{ payload: string }>(`select payload from outbox where subject = 'billing.subscribers.oneoffcharge.created' and payload like $1`, [`%${lineId}%`]))
    .map((r) => JSON.parse(r.payload).data as { chargeId: string; reason: string })
    .filter((d) => d.reason !== 'ACTIVATION_FEE');
const subscriptions = (lineId: string) =>
  h.rows<{ id: string; plan_code: string; status: string; starts_at: Date; ends_at: Date | null }>(`select id, plan_code, status, starts_at, ends_at from subscription where line_id = $1 order by starts_at, created_at`, [lineId]);

async function sweep(at: string) {
  h.clock.set(at);
  const { activateDueSubscriptions } = await import('../src/application/activate-due-subscriptions');
  return h.subscribers.runtime.orm.em.fork().transactional((em) => activateDueSubscriptions(em as Em, h.clock.now()));
}

/** Places an order without dispatching it, as the Temporal dispatcher leaves it, then (later) starts and completes it. */
async function complete(orderId: string, at: string) {
  h.clock.set(at);
  expect((await gql(STEP('startOrder'), { i: { orderId } })).startOrder.order.status).toBe('IN_PROGRESS');
  return (await gql(STEP('completeOrder'), { i: { orderId } })).completeOrder.order;
}

describe('an END_OF_CYCLE plan change charges its fee when the new plan starts', () => {
  it('nothing at completion nor before the start; once when the sweep starts it (sweeps repeated and overlapping), dated at the start', async () => {
    const { lineId, msisdn: number } = await line();
    const changeId = await downgrade(lineId);
    expect(await charges(lineId)).toEqual([]);
    await sweep('2026-11-30T22:59:59Z');
    expect(await charges(lineId)).toEqual([]);

    await Promise.all([sweep('2026-12-01T00:30:00Z'), sweep('2026-12-01T00:30:00Z')]);
    await sweep('2026-12-01T01:00:00Z');
    const cheap = (await subscriptions(lineId)).find((s) => s.plan_code === 'TIMING_CHEAP')!;
    expect(cheap.status).toBe('ACTIVE');
    const rows = await charges(lineId);
    expect(rows.map((r) => [r.reason, r.amount, r.order_id, r.subscription_id, r.description, new Date(r.charged_at).toISOString()])).toEqual([
      ['PLAN_CHANGE_FEE', '7.5000', changeId, cheap.id, `Switch fee for ${number} (to Timing Cheap)`, '2026-11-30T23:00:00.000Z'],
    ]);
    expect((await chargeEvents(lineId)).map((e) => e.chargeId)).toEqual([rows[0]!.id]);
  });
});

describe('fees of the plan in force when the order completes', () => {
  it('a termination completed after the boundary, before the sweep: the scheduled plan started, so its change fee and its termination fee', async () => {
    const { lineId } = await line();
    const changeId = await downgrade(lineId);
    h.clock.set('2026-11-30T22:30:00Z');
    const { requestLineChange } = await import('../src/application/line-orders');
    const placed = await h.subscribers.runtime.orm.em.fork().transactional((em) => requestLineChange(em as Em, { kind: 'TERMINATE', lineId, now: h.clock.now() }, h.catalogClient));
    expect(await complete(placed.order.id, '2026-12-01T00:30:00Z')).toMatchObject({ status: 'COMPLETED' });

    const subs = await subscriptions(lineId);
    expect(subs.map((s) => [s.plan_code, s.status, new Date(s.starts_at).toISOString(), s.ends_at && new Date(s.ends_at).toISOString()])).toEqual([
      ['TIMING_DEAR', 'ENDED', '2026-11-16T10:00:00.000Z', '2026-11-30T23:00:00.000Z'],
      ['TIMING_CHEAP', 'ENDED', '2026-11-30T23:00:00.000Z', '2026-12-01T00:30:00.000Z'],
    ]);
    const rows = await charges(lineId);
    expect(rows.map((r) => [r.reason, r.amount, r.order_id, r.subscription_id])).toEqual([
      ['PLAN_CHANGE_FEE', '7.5000', changeId, subs[1]!.id],
      ['TERMINATION_FEE', '50.0000', placed.order.id, subs[1]!.id],
    ]);
    // The sweep, coming late, finds nothing left to start or charge.
    await sweep('2026-12-01T00:31:00Z');
    expect(await charges(lineId)).toEqual(rows);
    expect((await chargeEvents(lineId)).map((e) => e.chargeId).sort()).toEqual(rows.map((r) => r.id).sort());
  });

  it('a SIM replacement completed after the boundary charges the SIM fee of the plan the line is on then', async () => {
    const { lineId } = await line();
    await downgrade(lineId);
    h.clock.set('2026-11-30T22:30:00Z');
    const placed = (await h.subscribers.runtime.orm.em.fork().transactional(async (em) => {
      const { replaceSim } = await import('../src/application/replace-sim');
      return replaceSim(em as Em, h.catalogClient, { lineId, iccid: iccid(), idempotencyKey: `timing-sim-${lineId}`, now: h.clock.now() });
    }));
    await sweep('2026-12-01T00:10:00Z');
    expect(await complete(placed.order.id, '2026-12-01T00:30:00Z')).toMatchObject({ status: 'COMPLETED' });
    const cheap = (await subscriptions(lineId)).find((s) => s.plan_code === 'TIMING_CHEAP')!;
    expect((await charges(lineId)).filter((r) => r.order_id === placed.order.id).map((r) => [r.reason, r.amount, r.subscription_id])).toEqual([['SIM_REPLACEMENT_FEE', '15.0000', cheap.id]]);
  });

  it('a plan put on the line after its termination was placed, whose fees the order does not carry, fails the completion rather than charging nothing', async () => {
    const { lineId } = await line(null);
    h.clock.set('2026-11-20T09:00:00Z');
    const { requestLineChange } = await import('../src/application/line-orders');
    const placed = await h.subscribers.runtime.orm.em.fork().transactional((em) => requestLineChange(em as Em, { kind: 'TERMINATE', lineId, now: h.clock.now() }, h.catalogClient));
    await gql(`mutation($i: SubscribeInput!) { subscribe(input: $i) { subscription { id } } }`, { i: { lineId, planCode: 'TIMING_DEAR' } });
    h.clock.set('2026-11-20T09:05:00Z');
    await gql(STEP('startOrder'), { i: { orderId: placed.order.id } });
    const r = await h.subscribers.request(STEP('completeOrder'), { i: { orderId: placed.order.id } });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'PLAN_FEES_UNKNOWN', field: 'input.lineId' });
    expect(await charges(lineId)).toEqual([]);
    expect((await h.rows<{ status: string }>(`select status from line where id = $1`, [lineId]))[0]!.status).toBe('ACTIVE');
  });
});

describe('placing an order that charges plan fees', () => {
  it('reads the catalog before locking the line (TERMINATE, SIM_REPLACEMENT)', async () => {
    const read = catalog.planVersionDocument.bind(catalog);
    const seen: string[] = [];
    let current = '';
    // While the catalog is asked, another connection must be able to lock the line at once.
    catalog.planVersionDocument = async (id: string) => {
      await h.db.query('begin');
      try {
        await h.db.query(`select id from line where id = $1 for update nowait`, [current]);
        seen.push('free');
      } catch (error) {
        seen.push(`locked: ${(error as Error).message}`);
      } finally {
        await h.db.query('rollback');
      }
      return read(id);
    };
    try {
      const sim = await line();
      current = sim.lineId;
      expect((await gql(REPLACE, { i: { lineId: sim.lineId, iccid: iccid(), idempotencyKey: `timing-lock-sim-${sim.lineId}` } })).replaceSim.order.status).toBe('COMPLETED');
      const ended = await line();
      current = ended.lineId;
      expect((await gql(TERMINATE, { i: { lineId: ended.lineId, idempotencyKey: `timing-lock-end-${ended.lineId}` } })).terminateLine.order.status).toBe('COMPLETED');
    } finally {
      catalog.planVersionDocument = read;
    }
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((s) => s === 'free'), JSON.stringify(seen)).toBe(true);
  });
});
