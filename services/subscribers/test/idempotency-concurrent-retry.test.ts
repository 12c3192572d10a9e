import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnValid } from '../src/domain/validation';
import { ORDER_FIELDS, startHarness, type FileCatalog, type Harness } from './support';
import { gqlOn, openAccount } from './plan-fees-support';

/**
 * A client that times out retries with the same idempotency key while its first request is still
 * running. Both must get the original order (rule 5: same key + same input → same result), one
 * order written. Before, `addLine` and `addAddOn` looked the key up only before their locks: the
 * retry found no order yet, went on, and was refused `MSISDN_DUPLICATE` (the first request's line)
 * or `ORDER_ALREADY_OPEN` / `ADDON_ALREADY_ACTIVE` (its order) for a request that succeeded. The
 * catalog is slowed down here so that both requests are past their lookup before either commits.
 * Same key, other input, at the same time: one succeeds, the other is `IDEMPOTENCY_KEY_REUSED`.
 */
let h: Harness;
beforeAll(async () => {
  h = await startHarness({ now: '2026-11-16T10:00:00Z' });
});
afterAll(() => h?.close());

const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const ADD_ON = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { line { id } order { ${ORDER_FIELDS} } } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { line { id } order { ${ORDER_FIELDS} } } }`;
const SUSPEND = `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { id } order { ${ORDER_FIELDS} } } }`;
const RESUME = `mutation($i: LineChangeInput!) { resumeLine(input: $i) { line { id } order { ${ORDER_FIELDS} } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id } order { ${ORDER_FIELDS} } } }`;
const REPLACE = `mutation($i: ReplaceSimInput!) { replaceSim(input: $i) { line { id } order { ${ORDER_FIELDS} } } }`;
const END = `mutation($i: EndAddOnInput!) { endAddOn(input: $i) { line { id } order { ${ORDER_FIELDS} } } }`;

let n = 0;
const msisdn = () => `+4915128${String(300000 + n++).padStart(6, '0')}`;
let serial = 0;
const RUN = String(Date.now() % 1_000_000).padStart(6, '0');
function iccid(): string {
  const body = `894903${RUN}${String(serial++).padStart(6, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return `${body}${d}`;
  throw new Error('unreachable');
}

/** The file catalog answers after `ms` while `run` runs (plans, offers and plan documents). */
async function withSlowCatalog<T>(ms: number, run: () => Promise<T>): Promise<T> {
  const catalog = h.catalogClient as FileCatalog;
  const saved = { currentPlanVersion: catalog.currentPlanVersion, offer: catalog.offer, planVersionDocument: catalog.planVersionDocument };
  const slow =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A) => {
      await new Promise((r) => setTimeout(r, ms));
      return f.apply(catalog, a);
    };
  catalog.currentPlanVersion = slow(saved.currentPlanVersion);
  catalog.offer = slow(saved.offer);
  catalog.planVersionDocument = slow(saved.planVersionDocument);
  try {
    return await run();
  } finally {
    Object.assign(catalog, saved);
  }
}

type Answer = { errors?: { extensions?: Record<string, unknown> }[]; data?: Record<string, { order: { id: string; kind: string; status: string } }> | null };
const outcome = (r: Answer, field: string) => (r.errors ? `refused ${String(r.errors[0]?.extensions?.reason ?? r.errors[0]?.extensions?.code)}` : `order ${r.data![field]!.order.id}`);

/** The same request twice at once: both answers, as `order <id>` or `refused <reason>`. */
async function twice(query: string, field: string, input: Record<string, unknown>, other?: Record<string, unknown>): Promise<string[]> {
  const answers = await withSlowCatalog(150, () => Promise.all([h.subscribers.request<any>(query, { i: input }), h.subscribers.request<any>(query, { i: other ?? input })]));
  return answers.map((r) => outcome(r as Answer, field));
}

const ordersWithKey = async (accountId: string, key: string) =>
  h.rows<{ id: string; kind: string }>(`select id, kind from product_order where billing_account_id = $1 and idempotency_key = $2 order by created_at, id`, [accountId, key]);

async function activeLine(accountId: string, planCode = 'POSTPAID_20GB') {
  const added = (await gqlOn(h, ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), iccid: iccid(), planCode } })).addLine;
  expect(added.order.status).toBe('COMPLETED');
  return added.line.id as string;
}

describe('a retry sent while the first request is still running gets the original order', () => {
  it('addLine twice at once with one key: both answered with the same order, one line and one order written', async () => {
    const { accountId } = await openAccount(h, 'POSTPAID', 'Rita Retry', 'rita.retry@example.org');
    const number = msisdn();
    const input = { billingAccountId: accountId, msisdn: number, iccid: iccid(), planCode: 'POSTPAID_20GB', idempotencyKey: 'new-line-1' };
    const answers = await twice(ADD_LINE, 'addLine', input);
    const orders = await ordersWithKey(accountId, 'new-line-1');
    expect(orders).toHaveLength(1);
    // Before: ['order ord_…', 'refused MSISDN_DUPLICATE'].
    expect(answers).toEqual([`order ${orders[0]!.id}`, `order ${orders[0]!.id}`]);
    expect(await h.rows(`select id from line where msisdn = $1`, [number])).toHaveLength(1);
  });

  it('addLine with one key and other input at once: one order, the other request IDEMPOTENCY_KEY_REUSED', async () => {
    const { accountId } = await openAccount(h, 'POSTPAID', 'Otto Other', 'otto.other@example.org');
    const input = { billingAccountId: accountId, msisdn: msisdn(), planCode: 'POSTPAID_20GB', idempotencyKey: 'new-line-2' };
    const answers = await twice(ADD_LINE, 'addLine', input, { ...input, msisdn: msisdn() });
    const orders = await ordersWithKey(accountId, 'new-line-2');
    expect(orders).toHaveLength(1);
    expect(answers.sort()).toEqual([`order ${orders[0]!.id}`, 'refused IDEMPOTENCY_KEY_REUSED'].sort());
    expect(await h.rows(`select id from line where billing_account_id = $1`, [accountId])).toHaveLength(1);
  });

  it('addAddOn twice at once with one key: both answered with the same order, one ADD_ON order written', async () => {
    const { accountId } = await openAccount(h, 'POSTPAID', 'Ada Addon', 'ada.addon@example.org');
    const lineId = await activeLine(accountId);
    const input = { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'boost-1' };
    const answers = await twice(ADD_ON, 'addAddOn', input);
    const orders = await ordersWithKey(accountId, 'boost-1');
    expect(orders).toHaveLength(1);
    // Before: ['order ord_…', 'refused ORDER_ALREADY_OPEN'] (or ADDON_ALREADY_ACTIVE once the first had completed).
    expect(answers).toEqual([`order ${orders[0]!.id}`, `order ${orders[0]!.id}`]);
    expect(await h.rows(`select id from product_order where line_id = $1 and kind = 'ADD_ON'`, [lineId])).toHaveLength(1);
  });

  it('addAddOn with one key and other input at once: one order, the other request IDEMPOTENCY_KEY_REUSED', async () => {
    const { accountId } = await openAccount(h, 'POSTPAID', 'Ida Input', 'ida.input@example.org');
    const lineId = await activeLine(accountId, 'FAMILY_SHARE_50GB');
    const other = await activeLine(accountId, 'FAMILY_SHARE_50GB');
    const input = { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'boost-2' };
    const answers = await twice(ADD_ON, 'addAddOn', input, { ...input, lineId: other });
    const orders = await ordersWithKey(accountId, 'boost-2');
    expect(orders).toHaveLength(1);
    expect(answers.sort()).toEqual([`order ${orders[0]!.id}`, 'refused IDEMPOTENCY_KEY_REUSED'].sort());
  });

  it('every other keyed order mutation, sent twice at once: both answered with the same order', async () => {
    const { accountId } = await openAccount(h, 'POSTPAID', 'Evi Every', 'evi.every@example.org');
    const lineId = await activeLine(accountId);
    const boost = (await gqlOn(h, ADD_ON, { i: { lineId, offerCode: 'DATA_BOOST_5GB' } })).addAddOn;
    expect(boost.order.status).toBe('COMPLETED');
    const steps: [string, string, Record<string, unknown>][] = [
      [END, 'endAddOn', { lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'k-end' }],
      [CHANGE, 'changePlan', { lineId, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: 'k-change' }],
      [SUSPEND, 'suspendLine', { lineId, reason: 'phone lost', idempotencyKey: 'k-suspend' }],
      [RESUME, 'resumeLine', { lineId, reason: 'phone found', idempotencyKey: 'k-resume' }],
      [REPLACE, 'replaceSim', { lineId, iccid: iccid(), idempotencyKey: 'k-sim' }],
      [TERMINATE, 'terminateLine', { lineId, idempotencyKey: 'k-terminate' }],
    ];
    const seen: Record<string, string[]> = {};
    const expected: Record<string, string[]> = {};
    for (const [query, field, input] of steps) {
      seen[field] = await twice(query, field, input);
      const orders = await ordersWithKey(accountId, input.idempotencyKey as string);
      expected[field] = orders.length === 1 ? [`order ${orders[0]!.id}`, `order ${orders[0]!.id}`] : [`${orders.length} orders`];
    }
    expect(seen).toEqual(expected);
  });
});
