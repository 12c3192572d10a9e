// A REFUND_FAILED card recharge (captured, credit refused, refund refused for good: recharge-refund-failed.test.ts) had
// no way out: staff who returned the money outside the provider, or decided to credit the wallet after all, could not
// record it, so ledgerline_wallets_recharges_refund_failed (and the critical alert on it) stayed up for ever.
// resolveRefundFailedRecharge closes one (staff only): REFUNDED_OUTSIDE moves no money, CREDITED credits the wallet once
// (ledger key TOPUP@<account>:recharge-<id>:resolveRefundFailed); both record who, when and the note, announce
// billing.wallets.recharge.resolved and take the recharge out of the gauge.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, type Caller } from '@ledgerline/contracts';
import { scrapeMetrics, type TestService } from '@ledgerline/platform';
import type { ManualClock } from '@ledgerline/platform';
import { T0, balanceOf, closedPrepaidWallet, dbOf, expectInvariants, openPrepaid, outboxEventsOf, startWallets, uniq } from './support';
import { outcomeOfFailure } from '../src/adapters/recharge-starter';
import { settleRecharge } from '../src/application/recharge';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const RESOLVE = `mutation($i: ResolveRefundFailedRechargeInput!) { resolveRefundFailedRecharge(input: $i) {
  recharge { id status failure resolution { resolution note resolvedBy resolvedByRole resolvedAt transactionId } } } }`;
const agent = (): Caller => ({ role: 'AGENT', subject: uniq('agent'), scopes: [] });

/** A card recharge of `amount` EUR recorded REFUND_FAILED, as the workflow's end makes it (settleRecharge). */
async function refundFailedRecharge(amount = '20.00', balance = '1.00', wallet?: { billingAccountId: string; walletId: string }) {
  const { billingAccountId, walletId } = wallet ?? (await openPrepaid(svc, { balance }));
  const rechargeId = uniq('rch');
  await dbOf(svc).query(
    `insert into recharge (id, idempotency_key, request_hash, billing_account_id, wallet_id, amount, currency, channel, method, payment_method_token, status, workflow_id, created_at, capture_started_at)
     values ($1, $2, 'h', $3, $4, $5, 'EUR', 'SELF_CARE', 'CARD', 'tok', 'STARTED', $6, $7, $7)`,
    [rechargeId, uniq('key'), billingAccountId, walletId, amount, `recharge-${rechargeId}`, T0],
  );
  expect(await settleRecharge(dbOf(svc), rechargeId, { ...outcomeOfFailure('RECHARGE_REFUND_FAILED'), captureId: 'cap_1' }, T0)).toMatchObject({ status: 'REFUND_FAILED' });
  return { billingAccountId, walletId, rechargeId };
}

const refundFailedGauge = async () => (await scrapeMetrics(svc)).ledgerline_wallets_recharges_refund_failed;
const ledgerTransactionsOf = async (billingAccountId: string) =>
  (await dbOf(svc).query<{ kind: string; idempotency_key: string }>(`select kind, idempotency_key from ledger_transaction where billing_account_id = $1 order by created_at, id`, [billingAccountId]));
const resolvedEventsOf = async (billingAccountId: string) => (await outboxEventsOf(svc, EVENTS.rechargeResolved.subject, billingAccountId)).map((e) => e.data);

describe('resolveRefundFailedRecharge', () => {
  it('REFUNDED_OUTSIDE closes it with no ledger effect: who, when and the note recorded, announced once, the gauge down', async () => {
    const { billingAccountId, walletId, rechargeId } = await refundFailedRecharge();
    const before = await refundFailedGauge();
    const ledgerBefore = await ledgerTransactionsOf(billingAccountId);
    const staff = agent();
    const key = uniq('resolve');
    const input = { rechargeId, resolution: 'REFUNDED_OUTSIDE', note: '  Refunded by bank transfer, ticket 4711  ', idempotencyKey: key };
    const res = await svc.request<any>(RESOLVE, { i: input }, staff);
    expect(res.errors).toBeUndefined();
    const resolution = { resolution: 'REFUNDED_OUTSIDE', note: 'Refunded by bank transfer, ticket 4711', resolvedBy: staff.subject, resolvedByRole: 'AGENT', resolvedAt: T0.toISOString(), transactionId: null };
    expect(res.data.resolveRefundFailedRecharge.recharge).toEqual({ id: rechargeId, status: 'RESOLVED', failure: 'RECHARGE_REFUND_FAILED', resolution });
    expect(await balanceOf(svc, walletId)).toBe('1');
    expect(await ledgerTransactionsOf(billingAccountId)).toEqual(ledgerBefore);
    expect(await refundFailedGauge()).toBe(before - 1);
    // Staff's note is internal (audit, staff's view): the event goes to the account's partner hubs, so it has none.
    expect(await resolvedEventsOf(billingAccountId)).toEqual([
      { rechargeId, billingAccountId, walletId, amount: { amount: '20.000000', currency: 'EUR' }, resolution: 'REFUNDED_OUTSIDE', resolvedBy: staff.subject, resolvedByRole: 'AGENT', resolvedAt: T0.toISOString(), transactionId: null },
    ]);
    // A retry under the key (its answer lost): the same answer, nothing more; another input under it: CONFLICT.
    const again = await svc.request<any>(RESOLVE, { i: input }, staff);
    expect(again.errors).toBeUndefined();
    expect(again.data.resolveRefundFailedRecharge.recharge.resolution).toEqual(resolution);
    const other = await svc.request(RESOLVE, { i: { ...input, resolution: 'CREDITED' } }, staff);
    expect(other.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED', field: 'input.idempotencyKey' });
    // Without the key (or under another): it is resolved already, and says how.
    const late = await svc.request(RESOLVE, { i: { rechargeId, resolution: 'REFUNDED_OUTSIDE', note: 'me too' } }, agent());
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'RECHARGE_ALREADY_RESOLVED', field: 'input.rechargeId' });
    expect(late.errors?.[0]?.message).toContain(`REFUNDED_OUTSIDE by AGENT ${staff.subject}`);
    expect(await resolvedEventsOf(billingAccountId)).toHaveLength(1);
    expect(await balanceOf(svc, walletId)).toBe('1');
  });

  it('CREDITED credits the wallet exactly once (a retry changes nothing) and closes it', async () => {
    const { billingAccountId, walletId, rechargeId } = await refundFailedRecharge('20.00', '1.00');
    const before = await refundFailedGauge();
    const staff = agent();
    const input = { rechargeId, resolution: 'CREDITED', note: 'Card closed; customer asked for the balance', idempotencyKey: uniq('resolve') };
    const first = await svc.request<any>(RESOLVE, { i: input }, staff);
    expect(first.errors).toBeUndefined();
    const recharge = first.data.resolveRefundFailedRecharge.recharge;
    expect(recharge).toMatchObject({ status: 'RESOLVED', resolution: { resolution: 'CREDITED', resolvedBy: staff.subject, resolvedByRole: 'AGENT', resolvedAt: T0.toISOString() } });
    expect(recharge.resolution.transactionId).toEqual(expect.any(String));
    expect(await balanceOf(svc, walletId)).toBe('21');
    const credits = (await ledgerTransactionsOf(billingAccountId)).filter((t) => t.idempotency_key.endsWith(`:recharge-${rechargeId}:resolveRefundFailed`));
    expect(credits).toEqual([{ kind: 'TOPUP', idempotency_key: `TOPUP@${billingAccountId}:recharge-${rechargeId}:resolveRefundFailed` }]);
    expect(await refundFailedGauge()).toBe(before - 1);
    const again = await svc.request<any>(RESOLVE, { i: input }, staff);
    expect(again.errors).toBeUndefined();
    expect(again.data.resolveRefundFailedRecharge.recharge).toEqual(recharge);
    expect(await balanceOf(svc, walletId)).toBe('21');
    // The credit is a top-up the customer is told of (balance.topup); the resolution is announced once.
    expect((await outboxEventsOf(svc, EVENTS.balanceTopup.subject, walletId)).map((e) => e.data.amount)).toContain('20.000000');
    const events = await resolvedEventsOf(billingAccountId);
    expect(events).toEqual([expect.objectContaining({ rechargeId, resolution: 'CREDITED', transactionId: recharge.resolution.transactionId })]);
    expect(events[0]).not.toHaveProperty('note');
    expect(JSON.stringify(events[0])).not.toContain('Card closed');
  });

  it('two staff resolving at once: one wins, the others are told it is resolved, the wallet credited at most once', async () => {
    for (const resolutions of [['CREDITED', 'CREDITED', 'CREDITED', 'CREDITED'], ['CREDITED', 'REFUNDED_OUTSIDE', 'CREDITED', 'REFUNDED_OUTSIDE']]) {
      const { billingAccountId, walletId, rechargeId } = await refundFailedRecharge('20.00', '1.00');
      const results = await Promise.all(resolutions.map((resolution, i) => svc.request<any>(RESOLVE, { i: { rechargeId, resolution, note: `staff ${i}`, idempotencyKey: uniq('resolve') } }, agent())));
      const won = results.filter((r) => !r.errors);
      expect(won).toHaveLength(1);
      for (const lost of results.filter((r) => r.errors)) expect(lost.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'RECHARGE_ALREADY_RESOLVED', field: 'input.rechargeId' });
      const how = won[0]!.data.resolveRefundFailedRecharge.recharge.resolution.resolution;
      expect(await balanceOf(svc, walletId)).toBe(how === 'CREDITED' ? '21' : '1');
      expect(await resolvedEventsOf(billingAccountId)).toHaveLength(1);
      await expectInvariants(svc);
    }
  });

  it('refuses an unknown id, a recharge not REFUND_FAILED, a blank note, and callers who are not staff', async () => {
    const { rechargeId } = await refundFailedRecharge();
    const unknown = await svc.request(RESOLVE, { i: { rechargeId: 'recharge_nope', resolution: 'REFUNDED_OUTSIDE', note: 'x' } });
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'RECHARGE_NOT_FOUND', field: 'input.rechargeId' });
    for (const note of ['', '   ']) {
      const blank = await svc.request(RESOLVE, { i: { rechargeId, resolution: 'REFUNDED_OUTSIDE', note } });
      expect(blank.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NOTE_REQUIRED', field: 'input.note' });
    }
    const long = await svc.request(RESOLVE, { i: { rechargeId, resolution: 'REFUNDED_OUTSIDE', note: 'x'.repeat(1001) } });
    expect(long.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'NOTE_TOO_LONG', field: 'input.note' });
    const shortKey = await svc.request(RESOLVE, { i: { rechargeId, resolution: 'REFUNDED_OUTSIDE', note: 'ok', idempotencyKey: 'short' } });
    expect(shortKey.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'IDEMPOTENCY_KEY_INVALID', field: 'input.idempotencyKey' });
    const customer = await svc.request(RESOLVE, { i: { rechargeId, resolution: 'CREDITED', note: 'give it to me' } }, { role: 'CUSTOMER', subject: 'alice', customerId: uniq('cus'), scopes: [] });
    expect(customer.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN' });
    // A recharge in another state (here a pending bank transfer).
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const pending = uniq('rch');
    await dbOf(svc).query(
      `insert into recharge (id, idempotency_key, request_hash, billing_account_id, wallet_id, amount, currency, channel, method, status, created_at) values ($1, $2, 'h', $3, $4, 5, 'EUR', 'SELF_CARE', 'BANK_TRANSFER', 'PENDING_TRANSFER', $5)`,
      [pending, uniq('key'), billingAccountId, walletId, T0],
    );
    const notFailed = await svc.request(RESOLVE, { i: { rechargeId: pending, resolution: 'CREDITED', note: 'x' } });
    expect(notFailed.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'RECHARGE_NOT_REFUND_FAILED', field: 'input.rechargeId', status: 'PENDING_TRANSFER' });
    expect(await balanceOf(svc, walletId)).toBe('0');
    // None of it touched the REFUND_FAILED one.
    expect((await dbOf(svc).query<{ status: string }>(`select status from recharge where id = $1`, [rechargeId]))[0]!.status).toBe('REFUND_FAILED');
  });

  it('CREDITED on a closed wallet: credited until the wallet is settled (money paid before the close); a settled one refuses it, REFUNDED_OUTSIDE still closes it', async () => {
    try {
      const closed = await closedPrepaidWallet(svc, clock, '2.00', false);
      const open = await refundFailedRecharge('20.00', '0', closed);
      const credited = await svc.request<any>(RESOLVE, { i: { rechargeId: open.rechargeId, resolution: 'CREDITED', note: 'paid before the close' } }, agent());
      expect(credited.errors).toBeUndefined();
      expect(await balanceOf(svc, closed.walletId)).toBe('22');

      const settled = await closedPrepaidWallet(svc, clock, '2.00');
      const { rechargeId } = await refundFailedRecharge('20.00', '0', settled);
      const refused = await svc.request(RESOLVE, { i: { rechargeId, resolution: 'CREDITED', note: 'credit it' } }, agent());
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'WALLET_SETTLED', field: 'input.resolution' });
      expect(refused.errors?.[0]?.message).toContain('resolve it REFUNDED_OUTSIDE');
      expect((await dbOf(svc).query<{ status: string }>(`select status from recharge where id = $1`, [rechargeId]))[0]!.status).toBe('REFUND_FAILED');
      expect(await balanceOf(svc, settled.walletId)).toBe('2');
      const outside = await svc.request<any>(RESOLVE, { i: { rechargeId, resolution: 'REFUNDED_OUTSIDE', note: 'bank transfer BT-1' } }, agent());
      expect(outside.errors).toBeUndefined();
      expect(outside.data.resolveRefundFailedRecharge.recharge.status).toBe('RESOLVED');
    } finally {
      clock.set(T0);
    }
  });

  it('a customer reading their recharge sees how and when it was resolved, not staff\'s note or name', async () => {
    const { billingAccountId, rechargeId } = await refundFailedRecharge();
    const customerId = uniq('cus');
    await dbOf(svc).query(`insert into account_owner (billing_account_id, customer_id, updated_at) values ($1, $2, $3)`, [billingAccountId, customerId, T0]);
    await svc.request(RESOLVE, { i: { rechargeId, resolution: 'REFUNDED_OUTSIDE', note: 'internal: ticket 99' } }, agent());
    const read = await svc.request<any>(`query($id: ID!) { recharge(id: $id) { status resolution { resolution note resolvedBy resolvedByRole resolvedAt } } }`, { id: rechargeId }, { role: 'CUSTOMER', subject: 'alice', customerId, scopes: [] });
    expect(read.data.recharge).toEqual({ status: 'RESOLVED', resolution: { resolution: 'REFUNDED_OUTSIDE', note: null, resolvedBy: null, resolvedByRole: 'AGENT', resolvedAt: T0.toISOString() } });
  });
});
