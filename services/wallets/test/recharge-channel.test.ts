// A recharge's channel is one of the channels a person recharges through (SELF_CARE when none is
// given); AUTO_TOPUP is only the channel of the recharge wallets makes for an auto top-up request.
// Anything else is BAD_USER_INPUT naming input.channel, never a column error.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, type Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { recharge } from '../src/application/recharge';
import type { AutoTopupRequestedData } from '../src/application/auto-topup-recharge';
import type { RechargeStarter, RechargeWorkflowInput } from '../src/adapters/recharge-starter';
import { APPLY, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets({ LOG_LEVEL: 'fatal' }));
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const RECHARGE = `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id channel } } }`;

async function customerAccount() {
  const w = await openPrepaid(svc, { balance: '10.00' });
  const customer: Caller = { role: 'CUSTOMER', subject: 'pat', customerId: uniq('cus'), scopes: [] };
  await dbOf(svc).query(`insert into account_owner (billing_account_id, customer_id, updated_at) values ($1, $2, now())`, [w.billingAccountId, customer.customerId]);
  return { ...w, customer };
}

function spyStarter(): RechargeStarter & { started: RechargeWorkflowInput[] } {
  const started: RechargeWorkflowInput[] = [];
  return {
    started,
    start: async (input) => (started.push(input), { workflowId: `recharge-${input.rechargeId}` }),
    outcome: async () => null,
    close: async () => undefined,
  };
}

describe('recharge channel', () => {
  it('a known channel is kept (none: SELF_CARE); an unknown one, a too long one and AUTO_TOPUP from a person name input.channel', async () => {
    const { billingAccountId, customer } = await customerAccount();
    const input = (channel?: string) => ({ i: { billingAccountId, amount: { amount: '10.00', currency: 'EUR' }, method: 'BANK_TRANSFER', channel, idempotencyKey: uniq('key') } });
    expect((await gql(svc, RECHARGE, input('USSD'))).recharge.recharge.channel).toBe('USSD');
    expect((await gql(svc, RECHARGE, input())).recharge.recharge.channel).toBe('SELF_CARE');
    const refused: Record<string, unknown> = {};
    for (const channel of ['CUSTOMER_SERVICE_DESK_01', 'KIOSK', 'app', 'AUTO_TOPUP']) {
      const e = (await svc.request(RECHARGE, input(channel), customer)).errors?.[0]?.extensions;
      refused[channel] = e && { code: e.code, reason: e.reason, field: e.field };
    }
    const expected = { code: 'BAD_USER_INPUT', reason: 'RECHARGE_CHANNEL_INVALID', field: 'input.channel' };
    expect(refused).toEqual({ CUSTOMER_SERVICE_DESK_01: expected, KIOSK: expected, app: expected, AUTO_TOPUP: expected });
    expect(await dbOf(svc).query(`select channel from recharge where billing_account_id = $1 order by channel`, [billingAccountId])).toEqual([{ channel: 'SELF_CARE' }, { channel: 'USSD' }]);
  });

  it("the auto top-up's own recharge (key = the request id, its amount and card) is accepted on AUTO_TOPUP; the same with another amount is not", async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    await gql(svc, `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`, { i: { walletId, enabled: true, threshold: '5.00', topupAmount: '20.00', paymentMethodToken: 'tok_visa' } });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '6', pricePerUnit: '1.00' }) }); // 10 → 4: below 5
    const [request] = await dbOf(svc).query<{ id: string }>(`select id from topup_request where wallet_id = $1`, [walletId]);
    const [row] = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2`, [EVENTS.autoTopupRequested.subject, `%${request!.id}%`]);
    const d = JSON.parse(row!.payload).data as AutoTopupRequestedData;
    const starter = spyStarter();
    const now = new Date();
    const other = await recharge(dbOf(svc), starter, { billingAccountId, amount: { amount: '25.00', currency: 'EUR' }, method: 'CARD', paymentMethodToken: d.paymentMethodToken, channel: 'AUTO_TOPUP', idempotencyKey: d.topupRequestId, now }).then(
      () => 'accepted',
      (e: { code?: string; details?: { field?: string } }) => ({ reason: e.code, field: e.details?.field }),
    );
    expect(other).toEqual({ reason: 'RECHARGE_CHANNEL_INVALID', field: 'input.channel' });
    const made = await recharge(dbOf(svc), starter, { billingAccountId, amount: d.amount, method: 'CARD', paymentMethodToken: d.paymentMethodToken, channel: 'AUTO_TOPUP', idempotencyKey: d.topupRequestId, now });
    expect(made).toMatchObject({ channel: 'AUTO_TOPUP', status: 'STARTED' });
    expect(starter.started.map((s) => s.channel)).toEqual(['AUTO_TOPUP']);
  });

  it('a voucher in another currency than the account names input.code and stays unused', async () => {
    const { billingAccountId, customer } = await customerAccount();
    const usd = await gql(svc, `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id } } }`, { i: { idempotencyKey: uniq('vkey'), amount: { amount: '5.00', currency: 'USD' }, expiresAt: new Date(Date.now() + 86_400_000).toISOString() } });
    const res = await svc.request(`mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id } } }`, { i: { billingAccountId, code: usd.issueVoucher.code, idempotencyKey: uniq('key') } }, customer);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'WALLET_CURRENCY_MISMATCH', field: 'input.code' });
    expect(res.errors?.[0]?.message).toContain('USD');
    expect((await dbOf(svc).query<{ status: string }>(`select status from voucher where id = $1`, [usd.issueVoucher.voucher.id]))[0]!.status).toBe('ACTIVE');
  });
});
