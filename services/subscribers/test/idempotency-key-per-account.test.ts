import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import { luhnValid } from '../src/domain/validation';
import { ORDER_FIELDS, startHarness, type Harness } from './support';
import { gqlOn, openAccount } from './plan-fees-support';

/**
 * An order's idempotency key is the caller's, scoped to the billing account the order is for:
 * unique (billing_account_id, idempotency_key). Simple frontends send keys like `change-plan-1`;
 * before, a key was one global space, so customer B sending a key customer A had used was refused
 * (CONFLICT IDEMPOTENCY_KEY_REUSED) and learnt that the key existed. Per account: the same key on
 * another account is another order; on the same account it replays (same input) or is refused
 * (other input), as before, on every order mutation (the account is the input's, or its line's).
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}, caller?: Caller) => gqlOn<T>(h, query, variables, caller);

const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { line { id planCode } order { ${ORDER_FIELDS} } } }`;
const ADD_ON = `mutation($i: AddAddOnInput!) { addAddOn(input: $i) { line { id } order { ${ORDER_FIELDS} } } }`;
const SUSPEND = `mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const TERMINATE = `mutation($i: LineChangeInput!) { terminateLine(input: $i) { line { id status } order { ${ORDER_FIELDS} } } }`;
const REPLACE = `mutation($i: ReplaceSimInput!) { replaceSim(input: $i) { line { id iccid } order { ${ORDER_FIELDS} } } }`;

let n = 0;
const msisdn = () => `+4915127${String(500000 + n++).padStart(6, '0')}`;
let serial = 0;
const RUN = String(Date.now() % 1_000_000).padStart(6, '0');
function iccid(): string {
  const body = `894902${RUN}${String(serial++).padStart(6, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhnValid(`${body}${d}`)) return `${body}${d}`;
  throw new Error('unreachable');
}

const customer = (customerId: string): Caller => ({ role: 'CUSTOMER', subject: customerId, customerId, scopes: [] });

async function customerWithLine(name: string) {
  const { customerId, accountId } = await openAccount(h, 'POSTPAID', name, `${name.toLowerCase().replace(/\s/g, '.')}@example.org`);
  const added = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), iccid: iccid(), planCode: 'POSTPAID_20GB' } })).addLine;
  expect(added.order.status).toBe('COMPLETED');
  return { customerId, accountId, lineId: added.line.id as string, caller: customer(customerId) };
}

async function refusal(query: string, input: Record<string, unknown>, caller?: Caller) {
  const r = await h.subscribers.request(query, { i: input }, caller);
  expect(r.errors, JSON.stringify(r.data)).toBeDefined();
  return r.errors![0]!.extensions;
}

const ordersWithKey = (key: string) =>
  h.rows<{ id: string; billing_account_id: string; kind: string }>(`select id, billing_account_id, kind from product_order where idempotency_key = $1 order by created_at, id`, [key]);

describe('idempotency keys are per billing account', () => {
  it('two customers on different accounts use the same key for their own plan change: both orders are placed', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const a = await customerWithLine('Ada Same Key');
    const b = await customerWithLine('Ben Same Key');
    const key = 'change-plan-1';

    const first = (await gql(CHANGE, { i: { lineId: a.lineId, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: key } }, a.caller)).changePlan;
    expect(first).toMatchObject({ line: { id: a.lineId, planCode: 'FAMILY_SHARE_50GB' }, order: { kind: 'PLAN_CHANGE', status: 'COMPLETED' } });
    // B's key is A's: before, CONFLICT IDEMPOTENCY_KEY_REUSED (and B learnt the key was taken).
    const second = (await gql(CHANGE, { i: { lineId: b.lineId, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: key } }, b.caller)).changePlan;
    expect(second).toMatchObject({ line: { id: b.lineId, planCode: 'FAMILY_SHARE_50GB' }, order: { kind: 'PLAN_CHANGE', status: 'COMPLETED' } });
    expect(second.order.id).not.toBe(first.order.id);
    const withKey = await ordersWithKey(key);
    expect(withKey).toHaveLength(2);
    expect(withKey).toEqual(
      expect.arrayContaining([
        { id: first.order.id, billing_account_id: a.accountId, kind: 'PLAN_CHANGE' },
        { id: second.order.id, billing_account_id: b.accountId, kind: 'PLAN_CHANGE' },
      ]),
    );

    // A retry with the same input is the same order, for each of them.
    const counts = await h.counts();
    expect((await gql(CHANGE, { i: { lineId: a.lineId, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: key } }, a.caller)).changePlan.order.id).toBe(first.order.id);
    expect((await gql(CHANGE, { i: { lineId: b.lineId, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: key } }, b.caller)).changePlan.order.id).toBe(second.order.id);
    expect(await h.counts()).toEqual(counts);

    // The same customer reusing the key with other input is still refused.
    expect(await refusal(CHANGE, { lineId: a.lineId, planCode: 'POSTPAID_20GB', idempotencyKey: key }, a.caller)).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    const otherLineOfA = (await gql(ADD_LINE, { i: { billingAccountId: a.accountId, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine.line.id as string;
    expect(await refusal(CHANGE, { lineId: otherLineOfA, planCode: 'FAMILY_SHARE_50GB', idempotencyKey: key }, a.caller)).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await h.counts()).toMatchObject({ product_order: counts.product_order + 1 }); // the new line's order only
  });

  it('every order mutation scopes the key by the account (input or line), replays a retry even once the line moved on, refuses other input', async () => {
    h.clock.set('2026-11-16T10:00:00Z');
    const { accountId: accountA } = await openAccount(h, 'POSTPAID', 'Cleo Keys', 'cleo@example.org');
    const { accountId: accountB } = await openAccount(h, 'POSTPAID', 'Dan Keys', 'dan@example.org');
    const inputs = { A: { billingAccountId: accountA, msisdn: msisdn(), iccid: iccid(), planCode: 'POSTPAID_20GB', idempotencyKey: 'order-1' }, B: { billingAccountId: accountB, msisdn: msisdn(), iccid: iccid(), planCode: 'POSTPAID_20GB', idempotencyKey: 'order-1' } };

    // addLine (the account is in the input).
    const lineA = (await gql(ADD_LINE, { i: inputs.A })).addLine;
    const lineB = (await gql(ADD_LINE, { i: inputs.B })).addLine;
    expect([lineA.order.status, lineB.order.status]).toEqual(['COMPLETED', 'COMPLETED']);
    expect(lineB.order.id).not.toBe(lineA.order.id);
    const a = lineA.line.id as string;
    const b = lineB.line.id as string;

    // addAddOn, suspendLine, replaceSim, terminateLine (the account is the line's), each key used on both accounts.
    const simA = iccid();
    const simB = iccid();
    const steps: { query: string; field: string; input: (lineId: string) => Record<string, unknown> }[] = [
      { query: ADD_ON, field: 'addAddOn', input: (lineId) => ({ lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'order-2' }) },
      { query: SUSPEND, field: 'suspendLine', input: (lineId) => ({ lineId, reason: 'phone lost', idempotencyKey: 'order-3' }) },
      { query: REPLACE, field: 'replaceSim', input: (lineId) => ({ lineId, iccid: lineId === a ? simA : simB, idempotencyKey: 'order-4' }) },
      { query: TERMINATE, field: 'terminateLine', input: (lineId) => ({ lineId, idempotencyKey: 'order-5' }) },
    ];
    const placed: Record<string, { A: string; B: string }> = { addLine: { A: lineA.order.id, B: lineB.order.id } };
    for (const s of steps) {
      const onA = (await gql(s.query, { i: s.input(a) }))[s.field];
      const onB = (await gql(s.query, { i: s.input(b) }))[s.field];
      expect([s.field, onA.order.status, onB.order.status]).toEqual([s.field, 'COMPLETED', 'COMPLETED']);
      expect(onB.order.id).not.toBe(onA.order.id);
      placed[s.field] = { A: onA.order.id, B: onB.order.id };
    }
    expect((await h.rows(`select status from line where id in ($1, $2)`, [a, b])).map((r) => r.status)).toEqual(['TERMINATED', 'TERMINATED']);

    // Retries after success return the first answer, though the lines are terminated by now.
    const counts = await h.counts();
    expect((await gql(ADD_LINE, { i: inputs.A })).addLine.order.id).toBe(placed.addLine!.A);
    expect((await gql(ADD_LINE, { i: inputs.B })).addLine.order.id).toBe(placed.addLine!.B);
    for (const s of steps) {
      expect([s.field, (await gql(s.query, { i: s.input(a) }))[s.field].order.id]).toEqual([s.field, placed[s.field]!.A]);
      expect([s.field, (await gql(s.query, { i: s.input(b) }))[s.field].order.id]).toEqual([s.field, placed[s.field]!.B]);
    }
    expect(await h.counts()).toEqual(counts);

    // Other input under a key of the same account: refused.
    expect(await refusal(ADD_LINE, { ...inputs.A, msisdn: msisdn() })).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await refusal(SUSPEND, { lineId: a, reason: 'other reason', idempotencyKey: 'order-3' })).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await refusal(TERMINATE, { lineId: a, idempotencyKey: 'order-4' })).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await refusal(REPLACE, { lineId: b, iccid: iccid(), idempotencyKey: 'order-4' })).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED' });
    // Another line of the same account is other input too; a third account's line is a new request.
    const lineC = (await gql(ADD_LINE, { i: { billingAccountId: accountB, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine.line.id as string;
    expect(await refusal(SUSPEND, { lineId: lineC, reason: 'phone lost', idempotencyKey: 'order-3' })).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED' }); // B used order-3 on line b
    const { accountId: accountC } = await openAccount(h, 'POSTPAID', 'Eve Keys', 'eve@example.org');
    const lineE = (await gql(ADD_LINE, { i: { billingAccountId: accountC, msisdn: msisdn(), planCode: 'POSTPAID_20GB' } })).addLine.line.id as string;
    expect((await gql(SUSPEND, { i: { lineId: lineE, reason: 'phone lost', idempotencyKey: 'order-3' } })).suspendLine.order.status).toBe('COMPLETED');
    expect((await ordersWithKey('order-3')).map((o) => o.billing_account_id).sort()).toEqual([accountA, accountB, accountC].sort());
  });

  it('requests racing with one key: one order per account, the other request of the same account CONFLICT (unique per account)', async () => {
    const a = await customerWithLine('Gus Race');
    const a2 = (await gql(ADD_LINE, { i: { billingAccountId: a.accountId, msisdn: msisdn() } })).addLine.line.id as string;
    const b = await customerWithLine('Hal Race');
    const suspend = (lineId: string) => h.subscribers.request<any>(SUSPEND, { i: { lineId, reason: 'phone lost', idempotencyKey: 'race-1' } });
    const [r1, r2, r3] = await Promise.all([suspend(a.lineId), suspend(a2), suspend(b.lineId)]);
    // Two lines of A (two locks, so both may pass the lookup): one order, the other refused by the check or the index.
    const outcomes = [r1, r2].map((r) => r.errors?.[0]?.extensions?.reason ?? r.data.suspendLine.order.status).sort();
    expect(outcomes).toEqual(['COMPLETED', 'IDEMPOTENCY_KEY_REUSED']);
    expect(r3.errors).toBeUndefined();
    expect(r3.data.suspendLine.order.status).toBe('COMPLETED');
    expect((await ordersWithKey('race-1')).map((o) => o.billing_account_id).sort()).toEqual([a.accountId, b.accountId].sort());
  });

  it('a key on an unknown line or account finds no order of anyone: NOT_FOUND, as without a key', async () => {
    const a = await customerWithLine('Fay Unknown');
    await gql(ADD_ON, { i: { lineId: a.lineId, offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'unknown-1' } });
    expect(await refusal(ADD_ON, { lineId: 'lin_missing', offerCode: 'DATA_BOOST_5GB', idempotencyKey: 'unknown-1' })).toMatchObject({ code: 'NOT_FOUND', field: 'input.lineId' });
    expect(await refusal(ADD_LINE, { billingAccountId: 'acc_missing', msisdn: msisdn(), idempotencyKey: 'unknown-1' })).toMatchObject({ code: 'NOT_FOUND', field: 'input.billingAccountId' });
  });
});
