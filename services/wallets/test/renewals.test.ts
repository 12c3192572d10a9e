import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, type SubscriptionData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, topup, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { followSubscriptionChange } from '../src/application/subscription-terms';
import { runWalletJobs } from '../src/jobs/jobs';
import type { CatalogClient, PlanTerms } from '../src/adapters/catalog-client';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
// These tests are about renewals: the jobs pass forfeits what an ended bucket has left at once (no
// grace for late usage; 'late usage draws on the ended period's bucket' below has its own).
const runJobs = (now: Date, starter: null = null, catalog: CatalogClient | null = null) => runWalletJobs(dbOf(svc), now, starter, catalog, undefined, { lateUsageGraceMs: 0 });
const at = (days: number, minutes = 0) => new Date(T0.getTime() + days * DAY + minutes * 60_000);

/** A 10 GB bundle for 15.00 every 30 days; half of the unused data (at most 5 GB) rolls over. */
const BUNDLE: PlanTerms = {
  recurringFee: { amount: '15.00', period: 'DAYS30' },
  allowances: [
    { id: 'data', name: '10 GB', unit: 'MB', quantity: '10240', validity: 'PERIOD', rollover: { percent: '50', maxQuantity: '5120' } },
    { id: 'voice', unit: 'SECOND', quantity: '60000', validity: 'PERIOD' },
  ],
};
/** The catalog as the renewal job sees it: the plan versions it has published. */
const catalog = (plans: Record<string, PlanTerms>): CatalogClient => ({ planTerms: async (id) => plans[id] ?? null });
const CATALOG = catalog({ pv_bundle: BUNDLE, pv_post: { ...BUNDLE, allowances: [BUNDLE.allowances[1]!] } });

const subscription = (billingAccountId: string, over: Partial<SubscriptionData> = {}): SubscriptionData => ({
  subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'BUNDLE', planVersionId: 'pv_bundle',
  status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [], ...over,
});

interface BucketView { id: string; allowanceId: string; lineId: string | null; initialQuantity: string; remaining: string; priority: number; validFrom: string; validTo: string; status: string }
const buckets = async (acc: string): Promise<BucketView[]> =>
  (await gql(svc, `query($a: ID!) { buckets(billingAccountId: $a, includeExpired: true) { id allowanceId lineId initialQuantity remaining priority validFrom validTo status } }`, { a: acc })).buckets;
const active = async (acc: string) => (await buckets(acc)).filter((b) => b.status === 'ACTIVE');
const term = async (subscriptionId: string) => (await dbOf(svc).query(`select period_start, period_end, fee_state, renewals from subscription_term where subscription_id = $1`, [subscriptionId]))[0];
const outboxOf = async (subject: string, subscriptionId: string) =>
  (await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 order by seq`, [subject])).map((r) => JSON.parse(r.payload).data).filter((d) => d.subscriptionId === subscriptionId);

describe('allowance periods: renewal, recurring fee, rollover and the end of a subscription', () => {
  it('a prepaid bundle renews at the end of its period: the fee is taken once, the allowances are granted again, and half the unused data rolls over and is drawn first', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '35.00' });
    const sub = subscription(acc);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0)); // the first period: 15.00
    await gql(svc, APPLY, { i: charge(acc, { lineId: sub.lineId, units: '1000', allowanceIds: ['data'] }) }); // 9,240 MB left

    // Not yet due one minute before the end: nothing happens.
    await runJobs(at(30, -1), null, CATALOG);
    expect(await balanceOf(svc, walletId)).toBe('20');
    // Due: two job passes at once (two replicas) and a third later renew it once.
    await Promise.all([runJobs(at(30, 1), null, CATALOG), runJobs(at(30, 1), null, CATALOG)]);
    await runJobs(at(30, 2), null, CATALOG);
    expect(await balanceOf(svc, walletId)).toBe('5');
    expect(await term(sub.subscriptionId)).toMatchObject({ period_start: at(30), period_end: at(60), fee_state: null, renewals: 1 });

    const now = await active(acc);
    const data = now.filter((b) => b.allowanceId === 'data').sort((a, b) => a.priority - b.priority);
    // 50 % of 9,240 = 4,620 (under the 5,120 cap) moved into a rollover bucket drawn before the new 10,240.
    expect(data.map((b) => ({ q: b.initialQuantity, r: b.remaining, p: b.priority, from: b.validFrom, to: b.validTo }))).toEqual([
      { q: '4620', r: '4620', p: 50, from: at(30).toISOString(), to: at(60).toISOString() },
      { q: '10240', r: '10240', p: 100, from: at(30).toISOString(), to: at(60).toISOString() },
    ]);
    expect(now.filter((b) => b.allowanceId === 'voice').map((b) => b.initialQuantity)).toEqual(['60000']);
    // The first period's data bucket expired with what did not roll over.
    const old = (await buckets(acc)).find((b) => b.allowanceId === 'data' && b.validFrom === T0.toISOString())!;
    expect(old).toMatchObject({ status: 'EXPIRED', remaining: '0' });
    const expiry = await dbOf(svc).query<{ amount: string }>(`select e.amount from ledger_entry e join ledger_transaction t on t.id = e.transaction_id where t.idempotency_key = $1 and e.account_id = $2`, [`EXPIRE:${old.id}`, `${acc}:ALLOWANCE_EXPIRED:MB`]);
    expect(expiry.map((e) => Number(e.amount))).toEqual([4620]);

    // A charge after the renewal draws the rollover first.
    await gql(svc, APPLY, { i: charge(acc, { lineId: sub.lineId, units: '100', allowanceIds: ['data'], occurredAt: at(31).toISOString() }) });
    expect((await active(acc)).filter((b) => b.allowanceId === 'data').map((b) => b.remaining).sort()).toEqual(['10240', '4520']);
    const renewed = await outboxOf(EVENTS.bundleRenewed.subject, sub.subscriptionId);
    expect(renewed).toEqual([expect.objectContaining({ periodStart: at(30).toISOString(), periodEnd: at(60).toISOString(), anchorAt: T0.toISOString(), lapsedAt: null, fee: { amount: '15.000000', currency: 'EUR' }, rollover: [{ allowanceId: 'data', quantity: '4620.000000', shared: false }] })]);
  });

  it("late usage of an ended period draws on that period's bucket, not on the balance, until the late-usage grace ends", async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '35.00' });
    const sub = subscription(acc);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0));
    await gql(svc, APPLY, { i: charge(acc, { lineId: sub.lineId, units: '1000', allowanceIds: ['data'], occurredAt: at(2).toISOString() }) }); // 9,240 MB left
    // The renewal on day 30 (the default grace): 4,620 MB roll over, the other 4,620 stay for late usage of the first period.
    await runWalletJobs(dbOf(svc), at(30, 1), null, CATALOG);
    expect(await balanceOf(svc, walletId)).toBe('5');
    const remaining = async () => (await dbOf(svc).query<{ valid_from: Date; priority: number; remaining: string }>(
      `select b.valid_from, b.priority, a.balance::text as remaining from bucket b join ledger_account a on a.id = b.id where b.billing_account_id = $1 and b.allowance_id = 'data' order by b.valid_from, b.priority`, [acc],
    )).map((r) => [r.valid_from.toISOString(), r.priority, Number(r.remaining)]);
    expect(await remaining()).toEqual([[T0.toISOString(), 100, 4620], [at(30).toISOString(), 50, 4620], [at(30).toISOString(), 100, 10240]]);
    // A CDR of day 29 arrives on day 31: it is the first period's usage, from the first period's bucket.
    const late = await gql(svc, APPLY, { i: charge(acc, { lineId: sub.lineId, units: '3000', allowanceIds: ['data'], occurredAt: at(29).toISOString() }) });
    expect(late.applyCharge.result).toMatchObject({ outcome: 'APPLIED', unitsFromAllowances: '3000', amountCharged: { amount: '0' } });
    expect(await remaining()).toEqual([[T0.toISOString(), 100, 1620], [at(30).toISOString(), 50, 4620], [at(30).toISOString(), 100, 10240]]);
    expect(await balanceOf(svc, walletId)).toBe('5');
    // The grace over (48 h), what is left is forfeited; later CDRs of that period find no bucket.
    await runWalletJobs(dbOf(svc), at(32, 1), null, CATALOG);
    expect(await remaining()).toEqual([[T0.toISOString(), 100, 0], [at(30).toISOString(), 50, 4620], [at(30).toISOString(), 100, 10240]]);
    const tooLate = await gql(svc, APPLY, { i: charge(acc, { lineId: sub.lineId, units: '100', allowanceIds: ['data'], occurredAt: at(29, 5).toISOString() }) });
    expect(tooLate.applyCharge.result.unitsFromAllowances).toBe('0');
  });

  it('a shared pool rolls over once, with the line whose renewal opens the next pool; the lines renewed later carry nothing', async () => {
    const FAMILY: PlanTerms = {
      recurringFee: { amount: '15.00', period: 'DAYS30' },
      allowances: [{ id: 'data', unit: 'MB', quantity: '20000', validity: 'PERIOD', shared: true, rollover: { percent: '50', maxQuantity: '5000' } }],
    };
    const plans = catalog({ pv_family: FAMILY });
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '70.00' });
    const a = subscription(acc, { planVersionId: 'pv_family' });
    const b = subscription(acc, { planVersionId: 'pv_family', startsAt: at(1).toISOString() });
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, a, FAMILY, T0)); // opens the pool [0, 30)
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, b, FAMILY, at(1))); // covered by it
    await gql(svc, APPLY, { i: charge(acc, { lineId: b.lineId, units: '12000', allowanceIds: ['data'], occurredAt: at(2).toISOString() }) }); // 8,000 left

    // Line a's renewal opens the next pool and carries 50 % of 8,000 = 4,000 (under the 5,000 cap); twice at once changes nothing.
    await Promise.all([runJobs(at(30, 1), null, plans), runJobs(at(30, 1), null, plans)]);
    // Line b renews a day later inside that pool's period: no pool, no rollover of its own.
    await runJobs(at(31, 1), null, plans);
    await runJobs(at(31, 2), null, plans);
    const pools = (await active(acc)).filter((x) => x.allowanceId === 'data').sort((x, y) => x.priority - y.priority);
    expect(pools.map((x) => ({ line: x.lineId, q: x.initialQuantity, p: x.priority, from: x.validFrom, to: x.validTo }))).toEqual([
      { line: null, q: '4000', p: 50, from: at(30).toISOString(), to: at(60).toISOString() },
      { line: null, q: '20000', p: 100, from: at(30).toISOString(), to: at(60).toISOString() },
    ]);
    const old = (await buckets(acc)).find((x) => x.allowanceId === 'data' && x.validFrom === T0.toISOString())!;
    expect(old).toMatchObject({ status: 'EXPIRED', remaining: '0' });
    expect((await outboxOf(EVENTS.bundleRenewed.subject, a.subscriptionId)).map((d) => d.rollover)).toEqual([[{ allowanceId: 'data', quantity: '4000.000000', shared: true }]]);
    expect((await outboxOf(EVENTS.bundleRenewed.subject, b.subscriptionId)).map((d) => d.rollover)).toEqual([[]]);
    // Either line draws the carried-over units first.
    await gql(svc, APPLY, { i: charge(acc, { lineId: b.lineId, units: '1000', allowanceIds: ['data'], occurredAt: at(32).toISOString() }) });
    expect((await active(acc)).filter((x) => x.allowanceId === 'data').map((x) => x.remaining).sort()).toEqual(['20000', '3000']);
  });

  it("a shared pool renews on its own cadence after the line that opened it has gone: the other lines keep it from its end, once; it stops when no member is left", async () => {
    const FAMILY: PlanTerms = {
      recurringFee: { amount: '15.00', period: 'DAYS30' },
      allowances: [{ id: 'data', unit: 'MB', quantity: '20000', validity: 'PERIOD', shared: true, rollover: { percent: '50', maxQuantity: '5000' } }],
    };
    const plans = catalog({ pv_family2: FAMILY });
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '100.00' });
    const a = subscription(acc, { planVersionId: 'pv_family2' });
    const b = subscription(acc, { planVersionId: 'pv_family2', startsAt: at(10).toISOString() });
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, a, FAMILY, T0)); // opens the pool [0, 30)
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, b, FAMILY, at(10))); // covered by it; b's periods run [10, 40), [40, 70)…
    await gql(svc, APPLY, { i: charge(acc, { lineId: b.lineId, units: '12000', allowanceIds: ['data'], occurredAt: at(12).toISOString() }) }); // 8,000 left
    // Line a leaves on day 20: its own periods end, the pool stays for b.
    await dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...a, endsAt: at(20).toISOString() }, FAMILY, at(15)));

    // Day 30: nobody's own renewal is due, yet b's paid period covers the pool's end: the pool opens
    // its next period there and carries 50 % of 8,000; two passes at once grant it once.
    await Promise.all([runJobs(at(30, 1), null, plans), runJobs(at(30, 1), null, plans)]);
    const pools = async () => (await active(acc)).filter((x) => x.allowanceId === 'data').map((x) => ({ q: x.initialQuantity, r: x.remaining, p: x.priority, from: x.validFrom, to: x.validTo })).sort((x, y) => x.p - y.p);
    expect(await pools()).toEqual([
      { q: '4000', r: '4000', p: 50, from: at(30).toISOString(), to: at(60).toISOString() },
      { q: '20000', r: '20000', p: 100, from: at(30).toISOString(), to: at(60).toISOString() },
    ]);
    // b uses it on day 31, before its own renewal: the carried-over units first, nothing from the balance.
    const before = await balanceOf(svc, (await dbOf(svc).query<{ id: string }>(`select id from wallet where billing_account_id = $1`, [acc]))[0]!.id);
    await gql(svc, APPLY, { i: charge(acc, { lineId: b.lineId, units: '1000', allowanceIds: ['data'], occurredAt: at(31).toISOString() }) });
    expect((await pools()).map((x) => x.r)).toEqual(['3000', '20000']);
    // b's own renewal on day 40 pays its fee and finds the pool covering it: nothing more granted or carried.
    await runJobs(at(40, 1), null, plans);
    expect((await outboxOf(EVENTS.bundleRenewed.subject, b.subscriptionId)).map((d) => [d.periodStart, d.allowancesGranted, d.rollover])).toEqual([[at(40).toISOString(), 0, []]]);
    expect(await pools()).toHaveLength(2);
    expect(await balanceOf(svc, (await dbOf(svc).query<{ id: string }>(`select id from wallet where billing_account_id = $1`, [acc]))[0]!.id)).toBe(String(Number(before) - 15));

    // Day 60: the pool's cadence holds (b's period [40, 70) covers it).
    await runJobs(at(60, 1), null, plans);
    expect((await pools()).map((x) => [x.from, x.to])).toEqual([[at(60).toISOString(), at(90).toISOString()], [at(60).toISOString(), at(90).toISOString()]]);
    // b leaves on day 65: at day 90 no member covers the end, so no pool opens.
    await dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...b, endsAt: at(65).toISOString() }, FAMILY, at(64)));
    await runJobs(at(90, 1), null, plans);
    expect(await pools()).toEqual([]);
  });

  it('a monthly shared pool keeps the day of the month of the first pool of its run (31 Jan → 28 Feb → 31 Mar), whoever is left', async () => {
    const MONTHLY: PlanTerms = { recurringFee: { amount: '10.00', period: 'MONTH' }, allowances: [{ id: 'data', unit: 'MB', quantity: '5000', validity: 'PERIOD', shared: true }] };
    const plans = catalog({ pv_family_month: MONTHLY });
    const d = (iso: string) => new Date(`${iso}T00:00:00.000Z`);
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '100.00' });
    const a = subscription(acc, { planVersionId: 'pv_family_month', startsAt: d('2027-01-31').toISOString() });
    const b = subscription(acc, { planVersionId: 'pv_family_month', startsAt: d('2027-02-05').toISOString() });
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, a, MONTHLY, d('2027-01-31')));
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, b, MONTHLY, d('2027-02-05')));
    await dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...a, endsAt: d('2027-02-10').toISOString() }, MONTHLY, d('2027-02-09')));
    await runJobs(new Date(d('2027-02-28').getTime() + 60_000), null, plans);
    expect((await active(acc)).map((x) => [x.validFrom, x.validTo])).toEqual([[d('2027-02-28').toISOString(), d('2027-03-31').toISOString()]]);
  });

  it('a balance short of the fee: not renewed, the customer told once; a top-up renews it from that moment', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '25.00' });
    const sub = subscription(acc);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0)); // 10.00 left

    await runJobs(at(30, 1), null, CATALOG);
    await runJobs(at(30, 5), null, CATALOG); // tried again: still short, no second message
    expect(await balanceOf(svc, walletId)).toBe('10');
    expect(await term(sub.subscriptionId)).toMatchObject({ period_end: at(30), fee_state: 'DUE', renewals: 0 });
    expect(await active(acc)).toEqual([]); // the first period's buckets expired; nothing new
    const notes = await dbOf(svc).query(`select kind, message from notification where billing_account_id = $1 and kind = 'BUNDLE_FEE_DUE'`, [acc]);
    expect(notes).toEqual([{ kind: 'BUNDLE_FEE_DUE', message: 'Your bundle costs 15.00 EUR and your balance is 10.00 EUR: top up and it starts within a minute.' }]);
    expect(await outboxOf(EVENTS.bundleFeeDue.subject, sub.subscriptionId)).toHaveLength(1);

    await topup(svc, acc, '10.00');
    await runJobs(at(33), null, CATALOG);
    expect(await balanceOf(svc, walletId)).toBe('5');
    expect(await term(sub.subscriptionId)).toMatchObject({ period_start: at(33), period_end: at(63), fee_state: null, renewals: 1 });
    // Renewed late, nothing rolls over (the old bucket had already expired).
    expect((await active(acc)).map((b) => [b.allowanceId, b.initialQuantity, b.validFrom]).sort()).toEqual([
      ['data', '10240', at(33).toISOString()],
      ['voice', '60000', at(33).toISOString()],
    ]);
    // Usage counts live usage by the same periods: the event says they run from the top-up now, and
    // that the subscription had no paid period from day 30 (its pools' periods depend on it).
    expect((await outboxOf(EVENTS.bundleRenewed.subject, sub.subscriptionId)).map((d) => [d.periodStart, d.anchorAt, d.lapsedAt])).toEqual([[at(33).toISOString(), at(33).toISOString(), at(30).toISOString()]]);
  });

  it('a prepaid bundle is paid before its first allowances: a balance short of the fee gets none until a top-up, however often the event comes', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '5.00' });
    const sub = subscription(acc);
    for (let i = 0; i < 2; i++) await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0));
    expect(await active(acc)).toEqual([]);
    expect(await balanceOf(svc, walletId)).toBe('5');
    expect(await term(sub.subscriptionId)).toMatchObject({ fee_state: 'DUE', renewals: 0 });
    expect(await outboxOf(EVENTS.bundleFeeDue.subject, sub.subscriptionId)).toEqual([expect.objectContaining({ fee: { amount: '15.000000', currency: 'EUR' }, balance: { amount: '5.000000', currency: 'EUR' } })]);
    const PERIODS = `query($r: [_Any!]!) { _entities(representations: $r) { ... on BillingAccount { allowancePeriods { subscriptionId lineId feeDue renewals periodEnd } } } }`;
    const periods = async () => (await gql(svc, PERIODS, { r: [{ __typename: 'BillingAccount', id: acc }] }))._entities[0].allowancePeriods;
    expect(await periods()).toEqual([{ subscriptionId: sub.subscriptionId, lineId: sub.lineId, feeDue: true, renewals: 0, periodEnd: T0.toISOString() }]);

    // Tried again a minute after it was refused, not before…
    await runJobs(at(0, 0.5), null, CATALOG);
    expect(await term(sub.subscriptionId)).toMatchObject({ fee_state: 'DUE', renewals: 0 });
    // …unless a top-up comes first: then at the next pass.
    await topup(svc, acc, '20.00');
    await runJobs(at(0, 0.5), null, CATALOG);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0)); // the event once more: nothing
    expect(await balanceOf(svc, walletId)).toBe('10');
    expect(await periods()).toEqual([{ subscriptionId: sub.subscriptionId, lineId: sub.lineId, feeDue: false, renewals: 1, periodEnd: at(30, 0.5).toISOString() }]);
    expect((await active(acc)).map((b) => [b.allowanceId, b.validFrom, b.validTo]).sort()).toEqual([
      ['data', at(0, 0.5).toISOString(), at(30, 0.5).toISOString()],
      ['voice', at(0, 0.5).toISOString(), at(30, 0.5).toISOString()],
    ]);
  });

  it('a prepaid bundle that starts later (an end-of-cycle plan change) is paid and granted when it starts', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '20.00' });
    const sub = subscription(acc, { status: 'SCHEDULED', startsAt: at(20).toISOString() });
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0));
    await runJobs(at(19), null, CATALOG);
    expect(await balanceOf(svc, walletId)).toBe('20');
    expect(await active(acc)).toEqual([]);
    await runJobs(at(20, 1), null, CATALOG);
    expect(await balanceOf(svc, walletId)).toBe('5');
    expect((await active(acc)).map((b) => [b.allowanceId, b.validFrom]).sort()).toEqual([['data', at(20).toISOString()], ['voice', at(20).toISOString()]]);
  });

  it('a postpaid plan renews its allowances without touching the balance (invoicing bills the fee); periods missed while the job was down are skipped', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '100' });
    const sub = subscription(acc, { paymentMode: 'POSTPAID', planVersionId: 'pv_post' });
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0));
    await runJobs(at(95), null, CATALOG); // three periods later
    expect(await balanceOf(svc, walletId)).toBe('0');
    expect(await term(sub.subscriptionId)).toMatchObject({ period_start: at(90), period_end: at(120), renewals: 1 });
    expect((await active(acc)).map((b) => [b.allowanceId, b.validFrom, b.validTo])).toEqual([['voice', at(90).toISOString(), at(120).toISOString()]]);
  });

  it('a subscription that ends (plan change, termination) ends its own buckets there and is not renewed after', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '50.00' });
    const sub = subscription(acc);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0));
    // What the subscriptionChanged consumer does with a plan change effective on day 20 (and with the event again).
    const ended = { ...sub, endsAt: at(20).toISOString() };
    for (let i = 0; i < 2; i++) await dbOf(svc).tx((sql) => followSubscriptionChange(sql, ended, BUNDLE, at(5)));
    expect((await active(acc)).map((b) => b.validTo)).toEqual([at(20).toISOString(), at(20).toISOString()]);
    await runJobs(at(21), null, CATALOG);
    expect(await active(acc)).toEqual([]);
    await runJobs(at(31), null, CATALOG);
    expect(await balanceOf(svc, walletId)).toBe('35');
    expect(await term(sub.subscriptionId)).toMatchObject({ renewals: 0 });
    expect(await active(acc)).toEqual([]);
  });

  it("a line not yet activated pays and gets nothing; its bundle is paid once and starts when it is activated", async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '20.00' });
    const sub = subscription(acc, { status: 'PENDING' });
    for (let i = 0; i < 2; i++) await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0));
    expect(await balanceOf(svc, walletId)).toBe('20'); // an activation that fails costs nothing
    expect(await active(acc)).toEqual([]);
    // Activated five minutes later (subscribers moves startsAt there); the event comes twice.
    const activated = { ...sub, status: 'ACTIVE', startsAt: at(0, 5).toISOString() };
    for (let i = 0; i < 2; i++) await dbOf(svc).tx((sql) => followSubscriptionChange(sql, activated, BUNDLE, at(0, 5)));
    expect(await balanceOf(svc, walletId)).toBe('5');
    expect(await term(sub.subscriptionId)).toMatchObject({ period_start: at(0, 5), period_end: at(30, 5) });
    expect((await active(acc)).map((b) => [b.allowanceId, b.validFrom, b.validTo]).sort()).toEqual([
      ['data', at(0, 5).toISOString(), at(30, 5).toISOString()],
      ['voice', at(0, 5).toISOString(), at(30, 5).toISOString()],
    ]);

    // A subscription paid at its creation while pending (before wallets waited for activations) is not paid again.
    const legacy = await openPrepaid(svc, { balance: '20.00' });
    const old = subscription(legacy.billingAccountId);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, old, BUNDLE, T0));
    await dbOf(svc).query(`update subscription_term set status = 'PENDING' where subscription_id = $1`, [old.subscriptionId]);
    await dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...old, status: 'ACTIVE', startsAt: at(0, 5).toISOString() }, BUNDLE, at(0, 5)));
    expect(await balanceOf(svc, legacy.walletId)).toBe('5');
    expect(await term(old.subscriptionId)).toMatchObject({ period_start: T0, period_end: at(30) });
  });

  it('a prepaid period cut short gives back its unused whole days when the fee prorates daily, once, and only if it was paid', async () => {
    const DAILY: PlanTerms = { ...BUNDLE, recurringFee: { amount: '15.00', period: 'DAYS30', proration: 'DAILY' } };
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '20.00' });
    const sub = subscription(acc);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, DAILY, T0)); // 15.00 for days 0–30
    expect(await balanceOf(svc, walletId)).toBe('5');
    // Ends on day 20 at noon: day 20 counts as used, 9 whole days come back: 15.00 × 9 / 30 = 4.50.
    const ended = { ...sub, status: 'ENDED', endsAt: at(20, 12 * 60).toISOString() };
    await Promise.all([0, 1, 2].map(() => dbOf(svc).tx((sql) => followSubscriptionChange(sql, ended, DAILY, at(20, 12 * 60)))));
    expect(await balanceOf(svc, walletId)).toBe('9.5');
    const notes = await dbOf(svc).query<{ message: string }>(`select message from notification where billing_account_id = $1 and kind = 'BUNDLE_REFUND'`, [acc]);
    expect(notes.map((n) => n.message)).toEqual(['Your bundle ended 9 day(s) early: 4.50 EUR is back on your balance.']);

    // The same fee without daily proration: nothing comes back.
    const other = await openPrepaid(svc, { balance: '20.00' });
    const plain = subscription(other.billingAccountId);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, plain, BUNDLE, T0));
    await dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...plain, status: 'ENDED', endsAt: at(20).toISOString() }, BUNDLE, at(20)));
    expect(await balanceOf(svc, other.walletId)).toBe('5');

    // A bundle whose fee was never taken (the balance did not cover it) gives nothing back.
    const poor = await openPrepaid(svc, { balance: '3.00' });
    const unpaid = subscription(poor.billingAccountId);
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, unpaid, DAILY, T0));
    await dbOf(svc).tx((sql) => followSubscriptionChange(sql, { ...unpaid, status: 'ENDED', endsAt: at(10).toISOString() }, DAILY, at(10)));
    expect(await balanceOf(svc, poor.walletId)).toBe('3');
  });
});
