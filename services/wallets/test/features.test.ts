import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent, type BudgetReplenishmentData, type Caller, type SubscriptionData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, topup, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import type { PlanTerms } from '../src/adapters/catalog-client';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const SET_BUDGET = `mutation($i: SetBudgetInput!) { setBudget(input: $i) { budget { id committed { amount } threshold { amount } remaining { amount } replenishmentCount } } }`;
const BUDGET = `query($r: [_Any!]!) { _entities(representations: $r) { ... on BillingAccount { budget { id remaining { amount currency } replenishmentCount replenishments { id sequence amount { amount } remaining { amount } } } } } }`;
const budgetOf = async (billingAccountId: string, caller?: Caller) => {
  const res = await svc.request(BUDGET, { r: [{ __typename: 'BillingAccount', id: billingAccountId }] }, caller);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data._entities[0].budget;
};

/** The budgetReplenished events in the outbox for this budget (what the relay publishes to invoicing). */
async function replenishmentEvents(budgetId: string): Promise<BudgetReplenishmentData[]> {
  const rows = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 order by created_at`, [EVENTS.budgetReplenished.subject]);
  return rows.map((r) => JSON.parse(r.payload).data as BudgetReplenishmentData).filter((d) => d.budgetId === budgetId);
}

describe('enterprise committed-spend budget', () => {
  it('is funded when set, drawn down by charges, replenished once per crossing below the threshold with one invoice request each', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const set = (await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '100.00', currency: 'EUR' }, threshold: '20.00' } })).setBudget.budget;
    expect(set).toMatchObject({ committed: { amount: '100' }, threshold: { amount: '20' }, remaining: { amount: '100' }, replenishmentCount: 1 });

    // 100 → 25: above the threshold, nothing happens.
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '75', pricePerUnit: '1.00' }) });
    expect((await budgetOf(billingAccountId)).remaining.amount).toBe('25');
    // 25 → 15: below 20 → +100 = 115, one replenishment; the same charge again changes nothing.
    const c = charge(billingAccountId, { units: '10', pricePerUnit: '1.00' });
    await gql(svc, APPLY, { i: c });
    await gql(svc, APPLY, { i: c });
    const b = await budgetOf(billingAccountId);
    expect(b.remaining).toEqual({ amount: '115', currency: 'EUR' });
    expect(b.replenishmentCount).toBe(2);
    expect(b.replenishments.map((r: { sequence: number; amount: { amount: string }; remaining: { amount: string } }) => [r.sequence, r.amount.amount, r.remaining.amount])).toEqual([[2, '100', '115'], [1, '100', '100']]);
    expect(await balanceOf(svc, walletId)).toBe('115');

    // One budgetReplenished event per replenishment, carrying BudgetReplenishmentData.
    const events = await replenishmentEvents(set.id);
    expect(events.map((e) => [e.replenishmentId, e.amount, e.remaining, e.currency, e.billingAccountId])).toEqual(b.replenishments.map((r: { id: string }) => r.id).reverse().map((id: string, i: number) => [id, '100.000000', i === 0 ? '100.000000' : '115.000000', 'EUR', billingAccountId]));

    // Ledger: the credits balance against BUDGET_RECEIVABLE (what invoicing bills): -200 there.
    const [recv] = await dbOf(svc).query<{ balance: string }>(`select balance from ledger_account where id = $1`, [`${billingAccountId}:BUDGET_RECEIVABLE:EUR`]);
    expect(Number(recv!.balance)).toBe(-200);
  });

  it('a charge bigger than one replenishment gets as many as it takes to reach the threshold again', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    await gql(svc, SET_BUDGET, { i: { billingAccountId, committed: { amount: '50', currency: 'EUR' }, threshold: '10' } });
    await gql(svc, APPLY, { i: charge(billingAccountId, { units: '45', pricePerUnit: '1.00' }) }); // 50 → 5 → 55
    await topup(svc, billingAccountId, '0.01'); // a credit never replenishes
    const b = await budgetOf(billingAccountId);
    expect(b.remaining.amount).toBe('55.01');
    expect(b.replenishmentCount).toBe(2);
  });

  it('bad input is a coded error and changes nothing; customers may read but not set it', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const post = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100' });
    const cases: [Record<string, unknown>, string][] = [
      [{ committed: { amount: '0', currency: 'EUR' }, threshold: '0' }, 'AMOUNT_NOT_POSITIVE'],
      [{ committed: { amount: '-5', currency: 'EUR' }, threshold: '0' }, 'AMOUNT_NOT_POSITIVE'],
      [{ committed: { amount: '50', currency: 'EUR' }, threshold: '50' }, 'BUDGET_THRESHOLD_INVALID'],
      [{ committed: { amount: '50', currency: 'USD' }, threshold: '5' }, 'WALLET_CURRENCY_MISMATCH'],
      [{ billingAccountId: 'acc_nobody', committed: { amount: '50', currency: 'EUR' }, threshold: '5' }, 'WALLET_NOT_FOUND'],
      [{ billingAccountId: post.billingAccountId, committed: { amount: '50', currency: 'EUR' }, threshold: '5' }, 'BUDGET_WALLET_NOT_PREPAID'],
    ];
    for (const [over, reason] of cases) {
      const res = await svc.request(SET_BUDGET, { i: { billingAccountId, ...over } });
      expect(res.errors?.[0]?.extensions?.reason, reason).toBe(reason);
    }
    const customer: Caller = { role: 'CUSTOMER', subject: 'c1', customerId: 'cus_x', scopes: [] };
    const res = await svc.request(SET_BUDGET, { i: { billingAccountId, committed: { amount: '50', currency: 'EUR' }, threshold: '5' } }, customer);
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await budgetOf(billingAccountId)).toBeNull();
    expect(await balanceOf(svc, (await gql(svc, `query($a: ID!) { walletOf(billingAccountId: $a, currency: "EUR") { id } }`, { a: billingAccountId })).walletOf.id)).toBe('0');
  });
});

describe('ownership: a customer reads and acts only on their own accounts', () => {
  async function ownedAccount(customerId: string) {
    const billingAccountId = uniq('acc');
    const event = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: billingAccountId, time: T0, key: [billingAccountId], data: { billingAccountId, customerId, paymentMode: 'PREPAID', currency: 'EUR', creditLimit: null } });
    await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(event));
    let walletId: string | undefined;
    for (let i = 0; i < 100 && !walletId; i++) {
      walletId = (await gql(svc, `query($a: ID!) { walletOf(billingAccountId: $a, currency: "EUR") { id } }`, { a: billingAccountId })).walletOf?.id;
      if (!walletId) await new Promise((r) => setTimeout(r, 100));
    }
    const owner = await dbOf(svc).query(`select 1 from account_owner where billing_account_id = $1`, [billingAccountId]);
    expect(owner).toHaveLength(1);
    await topup(svc, billingAccountId, '10.00');
    return { billingAccountId, walletId: walletId! };
  }

  it("own wallet, buckets, ledger, recharges, auto top-up: allowed; another customer: FORBIDDEN for the account, as an unknown id for a wallet or recharge (customer-ids-not-probed.test.ts), and nothing changes", async () => {
    const me: Caller = { role: 'CUSTOMER', subject: 'alice', customerId: uniq('cus'), scopes: [] };
    const other: Caller = { role: 'CUSTOMER', subject: 'mallory', customerId: uniq('cus'), scopes: [] };
    const mine = await ownedAccount(me.customerId!);
    const reads = [
      [`query($id: ID!) { wallet(id: $id) { balance { amount } } }`, { id: mine.walletId }],
      [`query($a: ID!) { walletOf(billingAccountId: $a, currency: "EUR") { id } }`, { a: mine.billingAccountId }],
      [`query($a: ID!) { buckets(billingAccountId: $a) { id } }`, { a: mine.billingAccountId }],
      [`query($a: ID!) { ledgerEntries(billingAccountId: $a) { edges { node { id } } } }`, { a: mine.billingAccountId }],
      [`query($r: [_Any!]!) { _entities(representations: $r) { ... on BillingAccount { wallets { id } reservations { id } } } }`, { r: [{ __typename: 'BillingAccount', id: mine.billingAccountId }] }],
    ] as const;
    for (const [q, v] of reads) {
      const ok = await svc.request(q, v as never, me);
      expect(ok.errors, q).toBeUndefined();
      const no = await svc.request(q, v as never, other);
      // One wallet by id: another customer's reads as an unknown id, null (no error); the account's reads: FORBIDDEN.
      if (q === reads[0][0]) expect([no.errors, no.data], q).toEqual([undefined, { wallet: null }]);
      else expect(no.errors?.[0]?.extensions?.code, q).toBe('FORBIDDEN');
    }
    const RECHARGE = `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id status } } }`;
    const bank = (key: string) => ({ i: { billingAccountId: mine.billingAccountId, amount: { amount: '5.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: key } });
    const mineRecharge = await svc.request(RECHARGE, bank(uniq('key')), me);
    expect(mineRecharge.data?.recharge.recharge.status).toBe('PENDING_TRANSFER');
    expect((await svc.request(RECHARGE, bank(uniq('key')), other)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const readRecharge = `query($id: ID!) { recharge(id: $id) { status } }`;
    expect((await svc.request(readRecharge, { id: mineRecharge.data!.recharge.recharge.id }, me)).data?.recharge.status).toBe('PENDING_TRANSFER');
    const theirRecharge = await svc.request(readRecharge, { id: mineRecharge.data!.recharge.recharge.id }, other);
    expect([theirRecharge.errors, theirRecharge.data]).toEqual([undefined, { recharge: null }]);
    const AUTO = `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { autoTopup { enabled } } } }`;
    const rule = { i: { walletId: mine.walletId, enabled: true, threshold: '5', topupAmount: '10', paymentMethodToken: 'sandbox_approve' } };
    // Another customer's wallet answers as one that does not exist (customer-ids-not-probed.test.ts).
    expect((await svc.request(AUTO, rule, other)).errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'WALLET_NOT_FOUND', field: 'input.walletId' });
    expect((await svc.request(AUTO, rule, me)).data?.setAutoTopup.wallet.autoTopup.enabled).toBe(true);
    const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { wallet { id } } }`;
    expect((await svc.request(REDEEM, { i: { billingAccountId: mine.billingAccountId, code: 'NOPE-NOPE', idempotencyKey: uniq('key') } }, other)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // Staff-only operations, even on their own account: a customer cannot credit or charge directly.
    const TOPUP = `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`;
    expect((await svc.request(TOPUP, { i: { billingAccountId: mine.billingAccountId, amount: { amount: '5.00', currency: 'EUR' }, idempotencyKey: uniq('key') } }, me)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await svc.request(APPLY, { i: charge(mine.billingAccountId) }, me)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    // A customer token without a customer id, a partner and an anonymous caller see nothing.
    for (const c of [{ role: 'CUSTOMER', subject: 'x', scopes: [] }, { role: 'PARTNER', subject: 'p', partnerId: 'prt_1', scopes: [] }] as Caller[]) {
      expect((await svc.request(reads[0][0], reads[0][1] as never, c)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    expect((await svc.request(reads[0][0], reads[0][1] as never, { role: 'ANONYMOUS', subject: 'anonymous', scopes: [] })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // Nothing changed by the refused calls.
    expect(await balanceOf(svc, mine.walletId)).toBe('10');
  });
});

describe('accounts from subscribers: credit limit and shared allowances', () => {
  it('a postpaid account event carries its credit limit; the wallet takes it (also when a subscription opened the wallet first)', async () => {
    const a = uniq('acc');
    const b = uniq('acc');
    const publish = (billingAccountId: string) =>
      svc.runtime.messaging.js.publish(
        EVENTS.billingAccountCreated.subject,
        JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: billingAccountId, time: T0, key: [billingAccountId], data: { billingAccountId, customerId: 'cus_1', paymentMode: 'POSTPAID', currency: 'EUR', creditLimit: '250.0000' } })),
      );
    // b: its wallet was opened from a subscription event first (no limit there).
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, { ...sub(b, 'lin_b1', 'pv_1'), paymentMode: 'POSTPAID' }, { allowances: [] }, T0));
    await publish(a);
    await publish(b);
    const limit = async (acc: string) => (await gql(svc, `query($a: ID!) { walletOf(billingAccountId: $a, currency: "EUR") { creditLimit { amount } paymentMode } }`, { a: acc })).walletOf;
    for (let i = 0; i < 100; i++) {
      const [x, y] = [await limit(a), await limit(b)];
      if (x?.creditLimit && y?.creditLimit) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await limit(a)).toEqual({ creditLimit: { amount: '250' }, paymentMode: 'POSTPAID' });
    expect(await limit(b)).toEqual({ creditLimit: { amount: '250' }, paymentMode: 'POSTPAID' });
    // The limit is enforced: 300 of accrual → 250 applied (PARTIAL).
    const r = await gql(svc, APPLY, { i: charge(a, { paymentMode: 'POSTPAID', units: '300', pricePerUnit: '1' }) });
    expect(r.applyCharge.result).toMatchObject({ outcome: 'PARTIAL', amountCharged: { amount: '250' } });

    // Later the agent raises a's limit to 400 in subscribers (billingaccount.changed): 150 more fit, and no more.
    const changed = (creditLimit: string | null, changes: string[]) =>
      svc.runtime.messaging.js.publish(
        EVENTS.billingAccountChanged.subject,
        JSON.stringify(createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountChanged.type, subject: a, time: T0, key: [a, String(creditLimit), ...changes], data: { billingAccountId: a, paymentMode: 'POSTPAID', currency: 'EUR', creditLimit, autopay: false, changed: changes } })),
      );
    await changed(null, ['autopay']); // not about the limit: it stays
    await changed('400', ['creditLimit']);
    for (let i = 0; i < 100 && (await limit(a)).creditLimit.amount !== '400'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await limit(a)).toEqual({ creditLimit: { amount: '400' }, paymentMode: 'POSTPAID' });
    const more = await gql(svc, APPLY, { i: charge(a, { paymentMode: 'POSTPAID', units: '200', pricePerUnit: '1' }) });
    expect(more.applyCharge.result).toMatchObject({ outcome: 'PARTIAL', amountCharged: { amount: '150' } });
    // No limit at all: charging accrues whatever comes.
    await changed(null, ['creditLimit']);
    for (let i = 0; i < 100 && (await limit(a)).creditLimit !== null; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await limit(a)).toEqual({ creditLimit: null, paymentMode: 'POSTPAID' });
    expect((await gql(svc, APPLY, { i: charge(a, { paymentMode: 'POSTPAID', units: '1000', pricePerUnit: '1' }) })).applyCharge.result).toMatchObject({ outcome: 'APPLIED', amountCharged: { amount: '1000' } });
  });

  const sub = (billingAccountId: string, lineId: string, planVersionId: string, startsAt = T0.toISOString()): SubscriptionData => ({
    subscriptionId: uniq('sub'), lineId, msisdn: '49' + lineId, billingAccountId, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'FAMILY', planVersionId, status: 'ACTIVE', startsAt, endsAt: null, addOns: [],
  });
  const FAMILY: PlanTerms = {
    allowances: [
      { id: 'data', unit: 'MB', quantity: '20000', validity: 'PERIOD', shared: true },
      { id: 'voice', unit: 'SECOND', quantity: '6000', validity: 'PERIOD' },
    ],
  };

  it('a shared allowance is one bucket per account, plan version and period for all lines; per-line allowances stay per line', async () => {
    const acc = uniq('acc');
    const db = dbOf(svc);
    const subs = [sub(acc, 'lin_1', 'pv_fam'), sub(acc, 'lin_2', 'pv_fam', new Date(T0.getTime() + 86_400_000).toISOString()), sub(acc, 'lin_3', 'pv_fam', new Date(T0.getTime() + 2 * 86_400_000).toISOString())];
    // The first line opens the period; the others arrive concurrently, each twice (a redelivered event).
    await db.tx((sql) => grantFromSubscription(sql, subs[0]!, FAMILY, T0));
    await Promise.all([...subs, ...subs].map((s) => db.tx((sql) => grantFromSubscription(sql, s, FAMILY, T0))));
    const buckets = (await gql(svc, `query($a: ID!) { buckets(billingAccountId: $a) { allowanceId lineId shared initialQuantity } }`, { a: acc })).buckets;
    const data = buckets.filter((b: { allowanceId: string }) => b.allowanceId === 'data');
    const voice = buckets.filter((b: { allowanceId: string }) => b.allowanceId === 'voice');
    expect(data).toEqual([{ allowanceId: 'data', lineId: null, shared: true, initialQuantity: '20000' }]);
    expect(voice.map((b: { lineId: string }) => b.lineId).sort()).toEqual(['lin_1', 'lin_2', 'lin_3']);
    // Every line draws from the one pool.
    await topup(svc, acc, '1.00');
    for (const line of ['lin_1', 'lin_2', 'lin_3']) await gql(svc, APPLY, { i: charge(acc, { lineId: line, units: '5000', allowanceIds: ['data'] }) });
    const left = (await gql(svc, `query($a: ID!) { buckets(billingAccountId: $a) { allowanceId remaining } }`, { a: acc })).buckets.find((b: { allowanceId: string }) => b.allowanceId === 'data');
    expect(left.remaining).toBe('5000');
    // Another plan version of the same account is another pool; a line starting after the period is another period.
    await db.tx((sql) => grantFromSubscription(sql, sub(acc, 'lin_4', 'pv_other'), FAMILY, T0));
    await db.tx((sql) => grantFromSubscription(sql, sub(acc, 'lin_5', 'pv_fam', new Date(T0.getTime() + 31 * 86_400_000).toISOString()), FAMILY, T0));
    const all = (await gql(svc, `query($a: ID!) { buckets(billingAccountId: $a) { allowanceId shared } }`, { a: acc })).buckets.filter((b: { allowanceId: string }) => b.allowanceId === 'data');
    expect(all).toHaveLength(3);
  });
});
