// Gaps 8: a card recharge whose workflow start failed. The recharge row was written (STARTING),
// then starting the Recharge workflow failed and the customer got an error, while syncRecharges
// started that same recharge a minute later: a customer who retried with a new key (as an error
// invites) was charged twice.
//
// Contract now: once the row is written the recharge is accepted. A start that fails is not the
// customer's error: Temporal may even have started the workflow before the answer was lost (start
// is idempotent by workflow id). The customer gets the recharge as it stands, STARTING (pending: it
// will go through), the jobs pass starts it, a retry with the same key starts (or joins) it now, and
// nothing invites a second payment under a new key. No double charge, no lost payment.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { recharge, syncRecharges } from '../src/application/recharge';
import type { RechargeStarter, RechargeWorkflowInput } from '../src/adapters/recharge-starter';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

/** Temporal that fails the first `failures` starts (the connection dropped), then starts workflows. */
function flakyStarter(failures: number): RechargeStarter & { started: RechargeWorkflowInput[] } {
  const started: RechargeWorkflowInput[] = [];
  let left = failures;
  return {
    started,
    start: async (input) => {
      if (left-- > 0) throw new Error('14 UNAVAILABLE: connection reset');
      started.push(input);
      return { workflowId: `recharge-${input.rechargeId}` };
    },
    outcome: async () => null,
    close: async () => undefined,
  };
}

describe('a recharge whose workflow start failed', () => {
  it('is answered as pending (STARTING), started once by the jobs pass, and a retry with the same key finds it', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const starter = flakyStarter(1);
    const now = new Date('2026-12-10T10:00:00Z');
    const command = { billingAccountId, amount: { amount: '25.00', currency: 'EUR' }, method: 'CARD' as const, paymentMethodToken: 'tok_visa', idempotencyKey: uniq('key'), now };
    const first = await recharge(dbOf(svc), starter, command);
    expect(first).toMatchObject({ status: 'STARTING', amount: '25.000000' });
    expect(starter.started).toHaveLength(0);

    // The jobs pass a minute later starts it (idempotent by workflow id).
    await syncRecharges(dbOf(svc), starter, new Date(now.getTime() + 61_000));
    expect(starter.started.map((s) => s.rechargeId)).toEqual([first.id]);

    // The customer retries with the same key: the same recharge, nothing more is paid.
    const again = await recharge(dbOf(svc), starter, { ...command, now: new Date(now.getTime() + 90_000) });
    expect(again).toMatchObject({ id: first.id, status: 'STARTED' });
    expect(starter.started).toHaveLength(1);
    expect(await dbOf(svc).query(`select id from recharge where billing_account_id = $1`, [billingAccountId])).toHaveLength(1);
  });

  it('a retry with the same key before the jobs pass starts it at once', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const starter = flakyStarter(1);
    const now = new Date('2026-12-10T11:00:00Z');
    const command = { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, method: 'CARD' as const, paymentMethodToken: 'tok_visa', idempotencyKey: uniq('key'), now };
    const first = await recharge(dbOf(svc), starter, command);
    expect(first.status).toBe('STARTING');
    const again = await recharge(dbOf(svc), starter, command);
    expect(again).toMatchObject({ id: first.id, status: 'STARTED' });
    await syncRecharges(dbOf(svc), starter, new Date(now.getTime() + 61_000));
    expect(starter.started.map((s) => s.rechargeId)).toEqual([first.id]);
  });
});
