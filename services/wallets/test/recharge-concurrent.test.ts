import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { expectInvariants, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const RECHARGE = `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id status } } }`;

// Found in review (ninth session): one of the copies failed with an internal error (the key's unique index).
describe('recharge idempotency under concurrency', () => {
  it('the same bank-transfer recharge sent twice at once (same key, same input) answers the same recharge both times', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const key = uniq('key');
    const input = { billingAccountId, amount: { amount: '20.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: key };
    const answers = await Promise.all([0, 1, 2, 3].map(() => svc.request<any>(RECHARGE, { i: input })));
    expect(answers.map((a) => a.errors?.[0]?.message ?? null)).toEqual([null, null, null, null]);
    expect(new Set(answers.map((a) => a.data?.recharge?.recharge?.id)).size).toBe(1);
  });
});
