// A prepaid plan change's preview promises the refund wallets will give. Wallets prorates a bundle's
// unused days from the fee its ledger took for the period (`periodFeeTaken`: the revenue side of
// `RENEWAL:<subscription>:<period start>`), but the preview prorated the old plan's fee as the
// catalog has it now: a period paid 10.00 whose plan then cost 15.00, changed at once after 10 of
// 30 days, was shown 10.00 back while wallets gave 6.67. Now wallets answers the fee it took with
// the allowance period (`AllowancePeriod.feeTaken`), the preview prorates that with the same
// `unusedDaysRefund`, and a period wallets took no fee for shows no refund.
//
// Real subscribers (file catalog, as the other plan-change tests), the real wallets service and the
// real GraphQL wallets client between them. Subscribers' events reach wallets as its consumer
// handles them (`followSubscribers` in wallets' events/consumers.ts), applied here in outbox order so
// the test decides when: the catalog both read is the same file catalog, whose fee the test raises.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, type SubscriptionData } from '@ledgerline/contracts';
import { DEV_INTERNAL_SECRET, ManualClock, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createWalletsService } from '../../wallets/src/service';
import { depsOf } from '../../wallets/src/deps';
import { openWallet } from '../../wallets/src/application/wallets';
import { grantFromSubscription } from '../../wallets/src/application/grant-from-subscription';
import { followSubscriptionChange } from '../../wallets/src/application/subscription-terms';
import type { PlanTerms } from '../../wallets/src/adapters/catalog-client';
import { checkLedgerInvariants } from '../../wallets/src/persistence/invariants';
import { GraphqlWalletsClient } from '../src/ports/wallets-client';
import { startHarness, type FileCatalog, type Harness } from './support';
import { gqlOn, openAccount } from './plan-fees-support';

let h: Harness;
let wallets: TestService;
const walletsClock = new ManualClock(new Date('2026-11-16T10:00:00Z'));
beforeAll(async () => {
  const env = { WALLETS_TEMPORAL: 'off', WALLETS_CONSUMERS: 'off', WALLETS_JOBS: 'off' };
  wallets = await startServiceForTest(createWalletsService({ env: { ...process.env, ...env } }), { clock: walletsClock, env });
  h = await startHarness({ now: '2026-11-16T10:00:00Z', wallets: new GraphqlWalletsClient(wallets.url, DEV_INTERNAL_SECRET) });
}, 60_000);
afterAll(async () => {
  await h?.close();
  await wallets?.close();
});

/** Both services' clocks. */
function at(iso: string): void {
  h.clock.set(iso);
  walletsClock.set(iso);
}

const gql = <T = any>(query: string, variables: Record<string, unknown> = {}) => gqlOn<T>(h, query, variables);
const walletsDb = () => depsOf(wallets.runtime).db;
const ADD_LINE = `mutation($i: AddLineInput!) { addLine(input: $i) { line { id } order { status } } }`;
const PREVIEW = `mutation($i: ChangePlanInput!) { previewPlanChange(input: $i) { timing effectiveAt periodStart periodEnd prepaid { newPeriodFee { amount } refund { amount currency } refundDays } } }`;
const CHANGE = `mutation($i: ChangePlanInput!) { changePlan(input: $i) { order { status } preview { timing prepaid { refund { amount } refundDays } } } }`;

let n = 0;
const msisdn = () => `+4915127${String(713000 + n++).padStart(6, '0')}`;

/** Plan `code`: the prepaid bundle's allowances, every 30 days for `fee`, prorated daily; no one-off fees. */
function publishBundle(code: string, fee: string): void {
  const catalog = h.catalogClient as FileCatalog;
  const from = catalog.plans.get('PREPAID_BUNDLE_30D')!;
  const document = { ...(from.document as Record<string, unknown>), code, name: code, oneOffFees: [], recurringFee: { amount: fee, period: 'DAYS30', proration: 'DAILY' } };
  catalog.plans.set(code, { ...from, code, planId: `pln_${code}`, versionId: `plv_${code}_1`, document });
}

/** The catalog raises (or lowers) plan `code`'s fee: the document both services read for its version. */
function repriceBundle(code: string, fee: string): void {
  const plan = (h.catalogClient as FileCatalog).plans.get(code)!;
  plan.document = { ...(plan.document as Record<string, unknown>), recurringFee: { amount: fee, period: 'DAYS30', proration: 'DAILY' } };
}

/** The catalog's terms for plan `code`'s version now refund unused days (DAILY) or not (NONE), as a product manager's new terms would. */
function setProration(code: string, proration: 'DAILY' | 'NONE'): void {
  const plan = (h.catalogClient as FileCatalog).plans.get(code)!;
  const doc = plan.document as { recurringFee: Record<string, unknown> };
  plan.document = { ...doc, recurringFee: { ...doc.recurringFee, proration } };
}

/** What wallets' catalog client reads of a plan version: the file catalog's document now. */
async function termsOf(planVersionId: string): Promise<PlanTerms | null> {
  const doc = (await h.catalogClient.planVersionDocument(planVersionId)) as (PlanTerms & { allowances?: PlanTerms['allowances'] }) | null;
  return doc ? { allowances: doc.allowances ?? [], balancePolicy: doc.balancePolicy, recurringFee: doc.recurringFee } : null;
}

let delivered = 0;
/** Subscribers' outbox, from where the last delivery stopped, to wallets as its consumer applies it. */
async function deliverToWallets(): Promise<void> {
  const rows = await h.rows<{ seq: string; subject: string; payload: string }>(`select seq::text, subject, payload from outbox where seq > $1 order by seq`, [delivered]);
  for (const row of rows) {
    delivered = Number(row.seq);
    const data = (JSON.parse(row.payload) as { data: any }).data;
    const now = h.clock.now();
    if (row.subject === EVENTS.billingAccountCreated.subject) {
      await walletsDb().tx((sql) => openWallet(sql, { billingAccountId: data.billingAccountId, currency: data.currency, paymentMode: data.paymentMode, creditLimit: data.creditLimit ?? null, customerId: data.customerId ?? null, timezone: data.timezone ?? null, now }));
    } else if (row.subject === EVENTS.subscriptionCreated.subject) {
      const d = data as SubscriptionData;
      const terms = await termsOf(d.planVersionId);
      if (terms) await walletsDb().tx((sql) => grantFromSubscription(sql, d, terms, now));
    } else if (row.subject === EVENTS.subscriptionChanged.subject) {
      const d = data as SubscriptionData;
      const terms = await termsOf(d.planVersionId);
      await walletsDb().tx((sql) => followSubscriptionChange(sql, d, terms, now));
    }
  }
}

async function topup(billingAccountId: string, amount: string): Promise<void> {
  const r = await wallets.request(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { wallet { id } } }`, { i: { billingAccountId, amount: { amount, currency: 'EUR' }, idempotencyKey: `topup-${billingAccountId}`, reference: 'test' } });
  if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
}

async function balanceOf(billingAccountId: string): Promise<string> {
  const r = await wallets.request<any>(`query($a: ID!) { walletOf(billingAccountId: $a, currency: "EUR") { balance { amount } } }`, { a: billingAccountId });
  if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
  return r.data.walletOf.balance.amount;
}

const refundsOf = async (billingAccountId: string) =>
  (await walletsDb().query<{ amount: string }>(
    `select e.amount::text from ledger_entry e join ledger_transaction t on t.id = e.transaction_id
      where t.kind = 'RECURRING_FEE_REFUND' and t.billing_account_id = $1 and e.account_id = $2`,
    [billingAccountId, `${billingAccountId}:REVENUE:EUR`],
  )).map((r) => r.amount);

/** A prepaid account (balance `balance`, in wallets) with a line on plan `code` since 16 Nov 10:00, wallets told of all of it. */
async function prepaidLine(code: string, balance: string) {
  at('2026-11-16T10:00:00Z');
  const { accountId } = await openAccount(h, 'PREPAID', `Preview ${code}`, `preview-${n}@example.org`);
  await deliverToWallets();
  if (balance !== '0') await topup(accountId, balance);
  const added = (await gql(ADD_LINE, { i: { billingAccountId: accountId, msisdn: msisdn(), planCode: code } })).addLine;
  expect(added.order.status).toBe('COMPLETED');
  await deliverToWallets();
  return { accountId, lineId: added.line.id as string };
}

describe("a prepaid plan change's preview shows the refund wallets gives: the unused days of the fee it took", () => {
  it('paid 10.00 for 30 days, the catalog fee then raised to 15.00, changed at once on day 10: 6.67 shown, and 6.67 given back', async () => {
    publishBundle('PREVIEW_PAID_S', '10.00');
    publishBundle('PREVIEW_PAID_L', '30.00');
    const { accountId, lineId } = await prepaidLine('PREVIEW_PAID_S', '50.00');
    expect(await balanceOf(accountId)).toBe('40'); // the first period's 10.00 taken

    repriceBundle('PREVIEW_PAID_S', '15.00');
    at('2026-11-26T10:00:00Z'); // 20 whole days of the 30 unused
    const preview = (await gql(PREVIEW, { i: { lineId, planCode: 'PREVIEW_PAID_L' } })).previewPlanChange;
    expect(preview).toMatchObject({ timing: 'IMMEDIATE', effectiveAt: '2026-11-26T10:00:00.000Z' });
    // 20/30 × 10.00 = 6.666… → 6.67 (half-even, cents); before, 20/30 × 15.00 = 10.00.
    expect(preview.prepaid).toEqual({ newPeriodFee: { amount: '30.00' }, refund: { amount: '6.67', currency: 'EUR' }, refundDays: 20 });

    const changed = (await gql(CHANGE, { i: { lineId, planCode: 'PREVIEW_PAID_L', idempotencyKey: `preview-change-${lineId}` } })).changePlan;
    expect(changed).toMatchObject({ order: { status: 'COMPLETED' }, preview: { timing: 'IMMEDIATE', prepaid: { refund: { amount: '6.67' }, refundDays: 20 } } });
    await deliverToWallets();
    // Wallets gave back what the preview showed (revenue → wallet), and took the new plan's 30.00.
    expect(await refundsOf(accountId)).toEqual(['-6.670000']);
    expect(await balanceOf(accountId)).toBe('16.67'); // 40 + 6.67 - 30.00
    expect(await checkLedgerInvariants(walletsDb())).toEqual([]);
  });

  it('a bundle whose fee wallets never took (the balance did not cover it): no refund shown, and none given', async () => {
    publishBundle('PREVIEW_UNPAID_S', '10.00');
    publishBundle('PREVIEW_UNPAID_L', '30.00');
    const { accountId, lineId } = await prepaidLine('PREVIEW_UNPAID_S', '0');
    expect(await walletsDb().query(`select 1 from ledger_transaction where kind = 'RECURRING_FEE' and billing_account_id = $1`, [accountId])).toEqual([]);

    at('2026-11-26T10:00:00Z');
    const preview = (await gql(PREVIEW, { i: { lineId, planCode: 'PREVIEW_UNPAID_L' } })).previewPlanChange;
    expect(preview.timing).toBe('IMMEDIATE');
    expect(preview.prepaid).toEqual({ newPeriodFee: { amount: '30.00' }, refund: null, refundDays: 0 });

    await gql(CHANGE, { i: { lineId, planCode: 'PREVIEW_UNPAID_L', idempotencyKey: `preview-change-${lineId}` } });
    await deliverToWallets();
    expect(await refundsOf(accountId)).toEqual([]);
  });
});

// The preview's timing and refund follow the terms the period's fee was taken under, which wallets
// keeps with the fee (`AllowancePeriod.feeProration`), not the old plan's terms as the catalog has
// them now. It read them from the catalog: a period paid under "unused days refunded" whose plan
// then said "no refund" was kept to its end (END_OF_CYCLE, no refund shown) although wallets refunds
// it; one paid under "no refund" whose plan then said "refunded" was changed at once with a refund
// shown that wallets (which follows the fee's terms) does not give: the rest of the paid period lost.
describe("a prepaid plan change follows the terms the period's fee was taken under, not the plan's terms now", () => {
  it('paid under DAILY, the plan now says NONE: changed at once, 6.67 shown for 20 unused days, and 6.67 given back', async () => {
    publishBundle('PREVIEW_TERMS_D', '10.00');
    publishBundle('PREVIEW_TERMS_DL', '30.00');
    const { accountId, lineId } = await prepaidLine('PREVIEW_TERMS_D', '50.00');
    expect(await balanceOf(accountId)).toBe('40');

    setProration('PREVIEW_TERMS_D', 'NONE');
    at('2026-11-26T10:00:00Z');
    const preview = (await gql(PREVIEW, { i: { lineId, planCode: 'PREVIEW_TERMS_DL' } })).previewPlanChange;
    expect(preview).toMatchObject({ timing: 'IMMEDIATE', effectiveAt: '2026-11-26T10:00:00.000Z' });
    expect(preview.prepaid).toEqual({ newPeriodFee: { amount: '30.00' }, refund: { amount: '6.67', currency: 'EUR' }, refundDays: 20 });

    await gql(CHANGE, { i: { lineId, planCode: 'PREVIEW_TERMS_DL', idempotencyKey: `preview-change-${lineId}` } });
    await deliverToWallets();
    expect(await refundsOf(accountId)).toEqual(['-6.670000']);
    expect(await balanceOf(accountId)).toBe('16.67'); // 40 + 6.67 - 30.00
    expect(await checkLedgerInvariants(walletsDb())).toEqual([]);
  });

  it('paid under NONE, the plan now says DAILY: the paid period is kept to its end (END_OF_CYCLE), no refund shown or given', async () => {
    publishBundle('PREVIEW_TERMS_N', '10.00');
    publishBundle('PREVIEW_TERMS_NL', '30.00');
    setProration('PREVIEW_TERMS_N', 'NONE');
    const { accountId, lineId } = await prepaidLine('PREVIEW_TERMS_N', '50.00');
    expect(await balanceOf(accountId)).toBe('40');

    setProration('PREVIEW_TERMS_N', 'DAILY');
    at('2026-11-26T10:00:00Z');
    const preview = (await gql(PREVIEW, { i: { lineId, planCode: 'PREVIEW_TERMS_NL' } })).previewPlanChange;
    expect(preview).toMatchObject({ timing: 'END_OF_CYCLE', effectiveAt: '2026-12-16T10:00:00.000Z' });
    expect(preview.prepaid).toEqual({ newPeriodFee: { amount: '30.00' }, refund: null, refundDays: 0 });

    await gql(CHANGE, { i: { lineId, planCode: 'PREVIEW_TERMS_NL', idempotencyKey: `preview-change-${lineId}` } });
    await deliverToWallets();
    expect(await refundsOf(accountId)).toEqual([]);
    expect(await balanceOf(accountId)).toBe('40');
    expect(await checkLedgerInvariants(walletsDb())).toEqual([]);
  });
});
