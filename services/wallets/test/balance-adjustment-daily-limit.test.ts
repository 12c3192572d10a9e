// The daily approval limit (contracts' approval-policy.ts, LEDGERLINE_APPROVAL_DAILY_LIMITS): the
// per-operation limit alone let an agent split a large adjustment into small ones, none needing
// approval. What one AGENT adjusted alone in the last 24 h (the service's clock; credits and debits
// by their size), per currency, plus the adjustment at hand, must stay within the daily limit; past
// it the adjustment is a PENDING BalanceAdjustmentRequest saying so. Here the per-operation limit is
// EUR 20.00, the daily EUR 80.00.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { balanceOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets({ LOG_LEVEL: 'fatal', LEDGERLINE_APPROVAL_LIMITS: '{"EUR":"20.00"}', LEDGERLINE_APPROVAL_DAILY_LIMITS: '{"EUR":"80.00"}' }));
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const agent = (subject: string): Caller => ({ role: 'AGENT', subject, scopes: [] });
const SUE: Caller = { role: 'AGENT', subject: 'super-sue', scopes: ['billing:approve'] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-adam', scopes: [] };
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id amount { amount } agent } approvalRequest { id status reason requestedBy amount { amount currency } } } }`;
const APPROVE = `mutation($i: ApproveBalanceAdjustmentInput!) { approveBalanceAdjustment(input: $i) { request { id status } adjustment { id } } }`;

async function as<T = any>(caller: Caller, query: string, variables: Record<string, unknown>): Promise<T> {
  const r = await svc.request<T>(query, variables, caller);
  if (r.errors?.length) throw new Error(`${r.errors[0]!.message} ${JSON.stringify(r.errors[0]!.extensions)}`);
  return r.data!;
}
const adjust = async (who: Caller, walletId: string, amount: string, key = uniq('key')) =>
  (await as(who, ADJUST, { i: { walletId, amount: { amount, currency: 'EUR' }, reason: 'goodwill: outage on 3 Nov', idempotencyKey: key } })).adjustBalance;

describe("an agent's adjustBalance and the daily approval limit", () => {
  it('four adjustments within the limits move at once (a debit counts by its size); the one crossing the daily limit becomes a request saying so; another agent and supervisors are not affected', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '100.00' });
    for (const amount of ['20.00', '20.00', '-20.00', '20.00']) expect(await adjust(agent('agent-dl-ann'), walletId, amount)).toMatchObject({ adjustment: { agent: 'agent-dl-ann' }, approvalRequest: null });
    const key = uniq('key');
    const over = await adjust(agent('agent-dl-ann'), walletId, '0.01', key);
    expect(over.adjustment).toBeNull();
    expect(over.approvalRequest).toMatchObject({ status: 'PENDING', requestedBy: 'agent-dl-ann', amount: { amount: '0.01', currency: 'EUR' } });
    expect(over.approvalRequest.reason).toContain('daily limit');
    expect((await adjust(agent('agent-dl-ann'), walletId, '0.01', key)).approvalRequest.id, 'a retry answers the same request').toBe(over.approvalRequest.id);
    expect(await balanceOf(svc, walletId)).toBe('140');

    expect(await adjust(agent('agent-dl-bob'), walletId, '20.00')).toMatchObject({ approvalRequest: null });
    expect(await adjust(SUE, walletId, '20.00')).toMatchObject({ approvalRequest: null });
    expect(await adjust(ADMIN, walletId, '500.00')).toMatchObject({ approvalRequest: null });
    // Approved, the adjustment was not made alone: it does not use up the requester's day.
    expect((await as(SUE, APPROVE, { i: { id: over.approvalRequest.id } })).approveBalanceAdjustment.request.status).toBe('APPROVED');
  });

  it('two concurrent adjustments of one agent that together cross the daily limit: exactly one moves alone', async () => {
    const [a, b] = [await openPrepaid(svc, { balance: '10.00' }), await openPrepaid(svc, { balance: '10.00' })];
    for (const n of [1, 2, 3]) await adjust(agent('agent-dl-cat'), n === 2 ? b.walletId : a.walletId, '20.00');
    const both = await Promise.all([adjust(agent('agent-dl-cat'), a.walletId, '20.00'), adjust(agent('agent-dl-cat'), b.walletId, '20.00')]);
    expect(both.filter((r) => r.adjustment !== null)).toHaveLength(1);
    expect(both.filter((r) => r.approvalRequest?.status === 'PENDING')).toHaveLength(1);
  });

  it('the window is a rolling 24 h by the service clock: a day after the first adjustments the agent adjusts alone again', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '10.00' });
    for (const n of [1, 2, 3, 4]) await adjust(agent('agent-dl-dan'), walletId, '20.00', `dl3-${n}-${uniq('k')}`);
    expect((await adjust(agent('agent-dl-dan'), walletId, '20.00')).approvalRequest?.status).toBe('PENDING');
    clock.advance(24 * 3_600_000 - 1000);
    expect((await adjust(agent('agent-dl-dan'), walletId, '20.00')).approvalRequest?.status, 'still within 24 h').toBe('PENDING');
    clock.advance(1000);
    expect(await adjust(agent('agent-dl-dan'), walletId, '20.00')).toMatchObject({ adjustment: { agent: 'agent-dl-dan' }, approvalRequest: null });
  });

  it('a bad LEDGERLINE_APPROVAL_DAILY_LIMITS stops start-up, naming the setting', async () => {
    await expect(startWallets({ LOG_LEVEL: 'fatal', LEDGERLINE_APPROVAL_DAILY_LIMITS: '{"EUR":"lots"}' })).rejects.toThrow(/LEDGERLINE_APPROVAL_DAILY_LIMITS is not valid: "EUR" must be a decimal string/);
  });
});
