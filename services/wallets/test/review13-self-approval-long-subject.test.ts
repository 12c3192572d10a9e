// Four eyes: the requester never approves their own balance adjustment request. requested_by keeps
// the first 200 characters of the caller's subject; the check compared it with the whole subject,
// so a requester whose subject is longer than 200 characters (later given billing:approve) could
// approve their own request.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { balanceOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets({ LOG_LEVEL: 'fatal', LEDGERLINE_APPROVAL_LIMITS: '{"EUR":"20.00"}' }));
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const LONG = `agent-${'x'.repeat(250)}`;
const REQUESTER: Caller = { role: 'AGENT', subject: LONG, scopes: [] };
const SAME_AS_SUPERVISOR: Caller = { role: 'AGENT', subject: LONG, scopes: ['billing:approve'] };
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { approvalRequest { id status } } }`;
const APPROVE = `mutation($i: ApproveBalanceAdjustmentInput!) { approveBalanceAdjustment(input: $i) { request { status } } }`;

describe('self-approval with a subject longer than requested_by keeps', () => {
  it('is refused (SELF_APPROVAL); nothing moves', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '10.00' });
    const asked = await svc.request<any>(ADJUST, { i: { walletId, amount: { amount: '25.00', currency: 'EUR' }, reason: 'goodwill: outage', idempotencyKey: uniq('key') } }, REQUESTER);
    expect(asked.errors).toBeUndefined();
    const id = asked.data.adjustBalance.approvalRequest.id;
    const r = await svc.request(APPROVE, { i: { id } }, SAME_AS_SUPERVISOR);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_APPROVAL' });
    expect(await balanceOf(svc, walletId)).toBe('10');
  });
});
