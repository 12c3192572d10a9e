// What a collections hold refuses. Before, an agent's `resumeLine` switched on a line an unpaid
// invoice's dunning held (barred, or held as the customer had suspended it), and `addLine` gave an
// account being dunned for non-payment new service (the new line was not held). Now resuming a
// line that still has a collections hold is LINE_HELD_FOR_COLLECTIONS (the agent lifts the hold
// with liftCollectionsHold if they mean to), and a new line on an account with open holds is
// ACCOUNT_IN_COLLECTIONS; other suspensions resume as before, and a replayed addLine still answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TestService } from '@ledgerline/platform';
import { startHoldsService } from './holds-support';

let svc: TestService;
const clock = new ManualClock(new Date('2026-11-20T10:00:00Z'));
beforeAll(async () => {
  ({ svc } = await startHoldsService(clock));
});
afterAll(() => svc?.close());

async function request(q: string, v: Record<string, unknown> = {}, caller?: Parameters<TestService['request']>[2]) {
  clock.advance(1000);
  return svc.request<any>(q, v, caller);
}
async function ok(q: string, v: Record<string, unknown> = {}) {
  const r = await request(q, v);
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data;
}

let msisdn = 0;
const nextMsisdn = () => `+49151247${String(++msisdn).padStart(5, '0')}`;
const ADD = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id status } order { id kind } } }`;
async function account(lines: number) {
  const customerId = (await ok(`mutation { createCustomer(input: { name: "Rita Refused", kind: INDIVIDUAL }) { customer { id } } }`)).createCustomer.customer.id as string;
  const accountId = (await ok(`mutation($c: ID!) { openBillingAccount(input: { customerId: $c, paymentMode: POSTPAID, currency: "EUR" }) { billingAccount { id } } }`, { c: customerId }))
    .openBillingAccount.billingAccount.id as string;
  const ids: string[] = [];
  for (let i = 0; i < lines; i++) ids.push((await ok(ADD, { i: { billingAccountId: accountId, msisdn: nextMsisdn() } })).addLine.line.id);
  return { customerId, accountId, lines: ids };
}
const hold = (m: 'placeCollectionsHold' | 'liftCollectionsHold', accountId: string, holder: string, key: string) =>
  ok(`mutation($i: CollectionsHoldInput!) { ${m}(input: $i) { holds { id } lines { id status } } }`, { i: { billingAccountId: accountId, holder, idempotencyKey: key } }).then((d) => d[m]);
const RESUME = `mutation($i: LineChangeInput!) { resumeLine(input: $i) { line { status } } }`;
const line = async (id: string) => (await ok(`query($id: ID!) { line(id: $id) { status orders { kind } } }`, { id })).line as { status: string; orders: { kind: string }[] };
const linesOf = async (accountId: string) => (await ok(`query($id: ID!) { billingAccount(id: $id) { lines { id } } }`, { id: accountId })).billingAccount.lines.length as number;

describe('resumeLine on a line held for collections', () => {
  it('is refused while any hold is left, naming the holders; the lift (by the dunning or an agent) resumes it', async () => {
    const { accountId, lines } = await account(1);
    const id = lines[0]!;
    await hold('placeCollectionsHold', accountId, 'dunning-inv_r1', 'dunning-inv_r1:suspend');
    await hold('placeCollectionsHold', accountId, 'dunning-inv_r2', 'dunning-inv_r2:suspend');
    expect((await line(id)).status).toBe('BARRED');

    const refused = await request(RESUME, { i: { lineId: id, reason: 'goodwill' } });
    expect(refused.errors?.[0]?.extensions, 'an agent must not switch on a line an unpaid invoice holds').toMatchObject({ code: 'CONFLICT', reason: 'LINE_HELD_FOR_COLLECTIONS', field: 'input.lineId' });
    expect(refused.errors![0]!.message).toContain('dunning-inv_r1');
    expect(refused.errors![0]!.message).toContain('dunning-inv_r2');
    const after = await line(id);
    expect({ status: after.status, resumes: after.orders.filter((o) => o.kind === 'RESUME').length }).toEqual({ status: 'BARRED', resumes: 0 });

    // One dunning ends: the other still holds the line.
    await hold('liftCollectionsHold', accountId, 'dunning-inv_r1', 'dunning-inv_r1:restore');
    const still = await request(RESUME, { i: { lineId: id } });
    expect(still.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LINE_HELD_FOR_COLLECTIONS', field: 'input.lineId' });
    expect(still.errors![0]!.message).toContain('dunning-inv_r2');
    expect(still.errors![0]!.message).not.toContain('dunning-inv_r1');

    // The agent lifts the last hold on purpose (as the dunning does when paid): the line is back on.
    const lifted = await hold('liftCollectionsHold', accountId, 'dunning-inv_r2', 'agent-goodwill-1');
    expect(lifted.lines).toEqual([{ id, status: 'ACTIVE' }]);
  });

  it('is refused for a held line the customer had suspended; other suspensions resume as before', async () => {
    const { customerId, accountId, lines } = await account(2);
    const [held, free] = lines as [string, string];
    const suspend = (lineId: string) =>
      request(`mutation($i: LineChangeInput!) { suspendLine(input: $i) { line { status } } }`, { i: { lineId, reason: 'phone lost' } }, { role: 'CUSTOMER', subject: 'rita', customerId, scopes: [] });
    expect((await suspend(held)).errors).toBeUndefined();
    await hold('placeCollectionsHold', accountId, 'dunning-inv_r3', 'dunning-inv_r3:suspend');
    expect((await request(RESUME, { i: { lineId: held } })).errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'LINE_HELD_FOR_COLLECTIONS', field: 'input.lineId' });
    expect((await line(held)).status).toBe('SUSPENDED');

    // Lifted: the customer's suspension stays (the lift never resumes it), and an agent may resume it now.
    await hold('liftCollectionsHold', accountId, 'dunning-inv_r3', 'dunning-inv_r3:restore');
    expect((await line(held)).status).toBe('SUSPENDED');
    expect((await ok(RESUME, { i: { lineId: held } })).resumeLine.line.status).toBe('ACTIVE');
    expect((await ok(RESUME, { i: { lineId: free } }).catch((e: Error) => e.message)), 'an ACTIVE line cannot be resumed (as before)').toContain('LINE_ILLEGAL_TRANSITION');
    expect((await suspend(free)).errors).toBeUndefined();
    expect((await ok(RESUME, { i: { lineId: free } })).resumeLine.line.status).toBe('ACTIVE');
  });
});

describe('addLine on an account held for collections', () => {
  it('is refused while the account has open holds, and allowed again once they are lifted', async () => {
    const { accountId } = await account(1);
    // A line ordered before the dunning (its retry must still get its answer).
    const before = { billingAccountId: accountId, msisdn: nextMsisdn(), idempotencyKey: `before-dunning-${accountId}` };
    const first = (await ok(ADD, { i: before })).addLine;
    await hold('placeCollectionsHold', accountId, 'dunning-inv_r4', 'dunning-inv_r4:suspend');

    const refused = await request(ADD, { i: { billingAccountId: accountId, msisdn: nextMsisdn(), planCode: 'POSTPAID_20GB' } });
    expect(refused.errors?.[0]?.extensions, 'no new service for an account being dunned for non-payment').toMatchObject({ code: 'CONFLICT', reason: 'ACCOUNT_IN_COLLECTIONS', field: 'input.billingAccountId' });
    expect(refused.errors![0]!.message).toContain('dunning-inv_r4');
    expect(await linesOf(accountId)).toBe(2);

    const replay = (await ok(ADD, { i: before })).addLine;
    expect(replay.order.id, 'a retry of an order placed before the hold replays it').toBe(first.order.id);

    await hold('liftCollectionsHold', accountId, 'dunning-inv_r4', 'dunning-inv_r4:restore');
    const added = (await ok(ADD, { i: { billingAccountId: accountId, msisdn: nextMsisdn() } })).addLine;
    expect(added.order.kind).toBe('NEW_LINE');
    expect(await linesOf(accountId)).toBe(3);
  });
});
