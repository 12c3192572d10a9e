// Turning an auto top-up rule off cancels its request that has not reached the card yet.
//
// A low balance writes a topup_request (REQUESTED) and autoTopupRequested to the outbox; the
// autotopup consumer later makes the card recharge (key = the request id) and starts its workflow.
// Nothing looked at the rule in between: a request made before the customer turned the rule off
// (or before the wallet became a committed-spend budget, which needs the rule off first) still
// charged the card, and with the budget replenishing the same low balance it was funded twice.
// Now turning the rule off cancels, once, a request with no recharge yet (CANCELLED, reason
// AUTO_TOPUP_DISABLED); the consumer then starts nothing. A request whose recharge was already made
// is cancelled with it while its capture has not begun (the recharge's workflow asks wallets before it
// authorizes and captures: beginRechargeStep, refused RECHARGE_CANCELLED; end to end on Temporal in
// auto-topup-disabled-cancels-started-recharge.test.ts); one whose capture began is left to finish:
// its money is never lost. The recharge's transaction takes the request's row lock and names its
// recharge on it, so a cancel and a recharge racing each other end with the request cancelled either way.
//
// The recharge workflow is replaced by a starter that counts starts (no Temporal).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, charge, dbOf, expectInvariants, gql, inRounds, openPrepaid, startWallets, topupRequestsOf } from './support';
import { startAutoTopup, type AutoTopupRequestedData } from '../src/application/auto-topup-recharge';
import { settleRecharge, syncRecharges } from '../src/application/recharge';
import type { RechargeStarter } from '../src/adapters/recharge-starter';

let svc: TestService;
beforeAll(async () => {
  // WALLETS_TEMPORAL=off: the service's own consumer leaves auto top-up requests alone (REQUESTED).
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

/** A card provider whose workflows run until told otherwise; counts the starts. */
function countingStarter(): RechargeStarter & { started: string[] } {
  const started: string[] = [];
  return {
    started,
    start: async (input) => {
      started.push(input.rechargeId);
      return { workflowId: `recharge-${input.rechargeId}` };
    },
    outcome: async () => null,
    close: async () => undefined,
  };
}

const SET_RULE = `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`;
const rule = (walletId: string, enabled: boolean) => ({ i: { walletId, enabled, threshold: '5.00', topupAmount: '20.00', paymentMethodToken: 'tok_visa' } });
const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id enabled } } }`;

/** A wallet with a rule whose balance fell below it: one REQUESTED request and its event. */
async function lowWithRequest(): Promise<{ billingAccountId: string; walletId: string; requestId: string; event: AutoTopupRequestedData }> {
  const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
  await gql(svc, SET_RULE, rule(walletId, true));
  await gql(svc, APPLY, { i: charge(billingAccountId, { units: '6', pricePerUnit: '1.00' }) }); // 10 → 4: below 5
  const [request] = await topupRequestsOf(svc, walletId);
  expect(request).toMatchObject({ status: 'REQUESTED', recharge_id: null });
  const [row] = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2`, [EVENTS.autoTopupRequested.subject, `%${request!.id}%`]);
  return { billingAccountId, walletId, requestId: request!.id, event: JSON.parse(row!.payload).data as AutoTopupRequestedData };
}
const rechargesOf = async (walletId: string) => (await dbOf(svc).query<{ id: string; status: string }>(`select id, status from recharge where wallet_id = $1`, [walletId]));
const deliver = (starter: RechargeStarter, event: AutoTopupRequestedData) => startAutoTopup(dbOf(svc), starter, event, new Date(), () => new Date());

describe('turning auto top-up off cancels a request not yet charged', () => {
  it('a request made before the rule was turned off is cancelled once and starts no recharge when its event comes (also redelivered)', async () => {
    const { walletId, event } = await lowWithRequest();
    await gql(svc, SET_RULE, rule(walletId, false));
    await gql(svc, SET_RULE, rule(walletId, false)); // twice: still one cancellation
    const starter = countingStarter();
    await deliver(starter, event);
    await deliver(starter, event);
    const seen = { requests: (await topupRequestsOf(svc, walletId)).map((r) => ({ status: r.status, reason: r.reason?.split(':')[0], recharge: r.recharge_id })), recharges: await rechargesOf(walletId), started: starter.started.length };
    expect(seen, JSON.stringify(seen)).toEqual({ requests: [{ status: 'CANCELLED', reason: 'AUTO_TOPUP_DISABLED', recharge: null }], recharges: [], started: 0 });
  });

  it('a budget set after the rule was turned off is the only thing that funds the low balance: the card is not charged too', async () => {
    const { billingAccountId, walletId, event } = await lowWithRequest();
    await gql(svc, SET_RULE, rule(walletId, false));
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } });
    const starter = countingStarter();
    await deliver(starter, event);
    const seen = {
      replenishments: Number((await dbOf(svc).query<{ n: string }>(`select count(*) as n from budget_replenishment where billing_account_id = $1`, [billingAccountId]))[0]!.n),
      requests: (await topupRequestsOf(svc, walletId)).map((r) => r.status),
      recharges: await rechargesOf(walletId),
      started: starter.started.length,
    };
    expect(seen, JSON.stringify(seen)).toEqual({ replenishments: 1, requests: ['CANCELLED'], recharges: [], started: 0 });
  });

  it('a request whose recharge already began its capture is left to finish when the rule is turned off: its outcome still reaches it', async () => {
    const { walletId, requestId, event } = await lowWithRequest();
    const starter = countingStarter();
    const made = await deliver(starter, event);
    // The workflow's capture activity claims the recharge before it captures the card (beginRechargeStep).
    await gql(svc, `mutation($i: BeginRechargeStepInput!) { beginRechargeStep(input: $i) { recharge { id } } }`, { i: { rechargeId: made!.id, step: 'CAPTURE' } });
    await gql(svc, SET_RULE, rule(walletId, false));
    const during = (await topupRequestsOf(svc, walletId)).map((r) => ({ status: r.status, recharge: r.recharge_id }));
    await settleRecharge(dbOf(svc), made!.id, { status: 'DECLINED', failure: 'PAYMENT_DECLINED' }, new Date());
    const after = (await topupRequestsOf(svc, walletId)).map((r) => r.status);
    expect({ during, after, started: starter.started.length }).toEqual({ during: [{ status: 'RECHARGE_STARTED', recharge: made!.id }], after: ['RECHARGE_DECLINED'], started: 1 });
    expect(requestId).toBe(event.topupRequestId);
  });

  it('turning the rule off while the event is being handled ends with the request cancelled either way: with no recharge, or with the recharge it names cancelled before its capture', async () => {
    const rounds = await inRounds(8, async () => {
      const { walletId, event } = await lowWithRequest();
      const starter = countingStarter();
      await Promise.all([deliver(starter, event), gql(svc, SET_RULE, rule(walletId, false))]);
      const [request] = await topupRequestsOf(svc, walletId);
      const recharges = await dbOf(svc).query<{ id: string; cancelled: boolean }>(`select id, cancelled_at is not null as cancelled from recharge where wallet_id = $1`, [walletId]);
      return { status: request!.status, linked: request!.recharge_id === (recharges[0]?.id ?? null), recharges: recharges.map((r) => (r.cancelled ? 'cancelled' : 'running')), started: starter.started.length };
    });
    for (const r of rounds) {
      expect([
        { status: 'CANCELLED', linked: true, recharges: [], started: 0 },
        { status: 'CANCELLED', linked: true, recharges: ['cancelled'], started: 1 },
      ], JSON.stringify(rounds)).toContainEqual(r);
    }
  });
});

describe('turning auto top-up off cancels a recharge made but not captured (beginRechargeStep)', () => {
  const BEGIN = `mutation($i: BeginRechargeStepInput!) { beginRechargeStep(input: $i) { recharge { id status } } }`;
  const begin = (rechargeId: string, step: 'AUTHORIZE' | 'CAPTURE') =>
    svc.request(BEGIN, { i: { rechargeId, step } }).then((r) => (r.errors ? String((r.errors[0]?.extensions as { reason?: string } | undefined)?.reason) : 'OK'));
  const recharge = async (walletId: string) => (await dbOf(svc).query<{ status: string; cancelled: boolean; claimed: boolean }>(
    `select status, cancelled_at is not null as cancelled, capture_started_at is not null as claimed from recharge where wallet_id = $1`, [walletId]))[0];

  it('cancelled before its capture: authorize and capture are refused RECHARGE_CANCELLED (every time), the request is CANCELLED, and the failed workflow settles it CANCELLED', async () => {
    const { walletId, event } = await lowWithRequest();
    const made = await deliver(countingStarter(), event);
    await gql(svc, SET_RULE, rule(walletId, false));
    const answers = [await begin(made!.id, 'AUTHORIZE'), await begin(made!.id, 'CAPTURE'), await begin(made!.id, 'CAPTURE')];
    const during = { answers, recharge: await recharge(walletId), request: (await topupRequestsOf(svc, walletId)).map((r) => ({ status: r.status, reason: r.reason?.split(':')[0] })) };
    expect(during).toEqual({ answers: ['RECHARGE_CANCELLED', 'RECHARGE_CANCELLED', 'RECHARGE_CANCELLED'], recharge: { status: 'STARTED', cancelled: true, claimed: false }, request: [{ status: 'CANCELLED', reason: 'AUTO_TOPUP_DISABLED' }] });
    // The workflow voided its authorization and failed: the recharge ends CANCELLED, the request stays CANCELLED.
    await settleRecharge(dbOf(svc), made!.id, { status: 'FAILED', failure: 'PAYMENT_CAPTURE_FAILED' }, new Date());
    expect({ recharge: await recharge(walletId), request: (await topupRequestsOf(svc, walletId)).map((r) => r.status) }).toEqual({ recharge: { status: 'CANCELLED', cancelled: true, claimed: false }, request: ['CANCELLED'] });
  });

  it('cancelled while STARTING (its workflow start failed): the jobs pass settles it CANCELLED and starts no workflow', async () => {
    const { walletId, event } = await lowWithRequest();
    // Temporal away when the recharge is made: the row stays STARTING, for syncRecharges to start a minute later.
    const away: RechargeStarter = { start: async () => Promise.reject(new Error('14 UNAVAILABLE: connection reset')), outcome: async () => null, close: async () => undefined };
    const made = await deliver(away, event);
    expect(made).toMatchObject({ status: 'STARTING' });
    await gql(svc, SET_RULE, rule(walletId, false));
    const starter = countingStarter();
    await syncRecharges(dbOf(svc), starter, new Date(Date.now() + 61_000));
    await syncRecharges(dbOf(svc), starter, new Date(Date.now() + 122_000)); // the next pass: nothing more
    const seen = { started: starter.started.length, recharge: await recharge(walletId), request: (await topupRequestsOf(svc, walletId)).map((r) => ({ status: r.status, reason: r.reason?.split(':')[0] })) };
    expect(seen, JSON.stringify(seen)).toEqual({ started: 0, recharge: { status: 'CANCELLED', cancelled: true, claimed: false }, request: [{ status: 'CANCELLED', reason: 'AUTO_TOPUP_DISABLED' }] });
  });

  it('its capture begun: turning the rule off leaves it (claimed, RECHARGE_STARTED) and the capture asked again goes on', async () => {
    const { walletId, event } = await lowWithRequest();
    const made = await deliver(countingStarter(), event);
    expect(await begin(made!.id, 'CAPTURE')).toBe('OK');
    await gql(svc, SET_RULE, rule(walletId, false));
    expect([await begin(made!.id, 'CAPTURE'), (await topupRequestsOf(svc, walletId))[0]!.status]).toEqual(['OK', 'RECHARGE_STARTED']);
    expect(await recharge(walletId)).toEqual({ status: 'STARTED', cancelled: false, claimed: true });
  });

  it('turning the rule off as the capture asks: exactly one wins, in every round (claimed and left running, or cancelled and the capture refused)', async () => {
    let round = 0;
    const rounds = await inRounds(12, async () => {
      const { walletId, event } = await lowWithRequest();
      const made = await deliver(countingStarter(), event);
      // The claim is one statement and turning off several: sent together the claim always won, so it
      // is sent 0–11 ms after, a little later each round: the rounds see both orders (measured: both, the cancel from ~3 ms).
      const lag = round++ % 12;
      const [answer] = await Promise.all([new Promise((r) => setTimeout(r, lag)).then(() => begin(made!.id, 'CAPTURE')), gql(svc, SET_RULE, rule(walletId, false))]);
      return { answer, recharge: await recharge(walletId), request: (await topupRequestsOf(svc, walletId))[0]!.status };
    });
    for (const r of rounds) {
      expect([
        { answer: 'OK', recharge: { status: 'STARTED', cancelled: false, claimed: true }, request: 'RECHARGE_STARTED' },
        { answer: 'RECHARGE_CANCELLED', recharge: { status: 'STARTED', cancelled: true, claimed: false }, request: 'CANCELLED' },
      ], JSON.stringify(rounds)).toContainEqual(r);
    }
  });
});
