import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { WORK_SUBJECTS, chargeResultsOf, type ChargeRequest, type ChargeResult } from '@ledgerline/contracts';
import { scrapeMetrics, type TestService } from '@ledgerline/platform';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, topup, uniq } from './support';
import { applyCharges, chargeResultMessageId } from '../src/application/apply-charges';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

/** The results of one account in a chargeApplied message (the consumer publishes them in batches). */
function collect(body: unknown, billingAccountId: string, into: Map<string, ChargeResult>): void {
  for (const r of chargeResultsOf(body).results) if (r.billingAccountId === billingAccountId) into.set(r.chargeId, r);
}

describe('applying charges', () => {
  it('32 concurrent debits on a wallet funded for exactly 11: exactly 11 succeed and the balance never goes below zero', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '11.00' });
    const results = await Promise.all(Array.from({ length: 32 }, () => gql(svc, APPLY, { i: charge(billingAccountId) })));
    const outcomes = results.map((r) => r.applyCharge.result.outcome);
    expect(outcomes.filter((o) => o === 'APPLIED')).toHaveLength(11);
    expect(outcomes.filter((o) => o === 'DENIED')).toHaveLength(21);
    expect(results.find((r) => r.applyCharge.result.outcome === 'DENIED').applyCharge.result.reason).toBe('WALLET_INSUFFICIENT_BALANCE');
    expect(await balanceOf(svc, walletId)).toBe('0');
  });

  it('a duplicate charge has one effect, answered with the first result', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const c = charge(billingAccountId, { units: '3', pricePerUnit: '0.50' });
    const first = await gql(svc, APPLY, { i: c });
    const again = await gql(svc, APPLY, { i: c });
    const inBatch = await applyCharges(dbOf(svc), [c as never, c as never], T0);
    expect(first.applyCharge.result.amountCharged.amount).toBe('1.5');
    expect(again.applyCharge.result).toEqual(first.applyCharge.result);
    expect(inBatch).toHaveLength(1);
    expect(await balanceOf(svc, walletId)).toBe('8.5');
  });

  it('uses buckets in priority order before money, then grants only what is left (PARTIAL)', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '2.00' });
    const grant = (allowanceId: string, quantity: string, priority: number) =>
      gql(svc, `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id remaining } } }`, {
        i: { billingAccountId, allowanceId, unit: 'MB', quantity, priority, validFrom: '2026-11-01T00:00:00Z', validTo: '2026-12-01T00:00:00Z', grantKey: uniq('g') },
      });
    const low = await grant('data', '100', 10);
    const high = await grant('data', '50', 1);
    const r = await gql(svc, APPLY, { i: charge(billingAccountId, { units: '210', pricePerUnit: '0.04', allowanceIds: ['data'] }) });
    expect(r.applyCharge.result).toMatchObject({ outcome: 'PARTIAL', units: '200', unitsFromAllowances: '150', reason: 'WALLET_INSUFFICIENT_BALANCE' });
    // 150 MB from buckets; 60 MB at 0.04 would be 2.40, so only 50 MB (2.00, what was left) are granted.
    expect(await balanceOf(svc, walletId)).toBe('0');
    const b = await gql(svc, `query($a: ID!) { buckets(billingAccountId: $a) { id remaining } }`, { a: billingAccountId });
    expect(Object.fromEntries(b.buckets.map((x: any) => [x.id, x.remaining]))).toEqual({ [high.grantBucket.bucket.id]: '0', [low.grantBucket.bucket.id]: '0' });
    const more = await gql(svc, APPLY, { i: charge(billingAccountId, { units: '10', pricePerUnit: '0.04', allowanceIds: ['data'] }) });
    expect(more.applyCharge.result.outcome).toBe('DENIED');
    const notes = await dbOf(svc).query(`select kind from notification where billing_account_id = $1 order by kind`, [billingAccountId]);
    // One allowance ('data') in two buckets: told once per threshold, for the allowance as a whole.
    expect(notes.map((n) => n.kind)).toEqual(['BUCKET_100', 'BUCKET_50', 'BUCKET_80', 'DEPLETED']);
  });

  it('postpaid accrues as unbilled within the credit limit; prepaid overdraft only when allowed', async () => {
    const post = await openPrepaid(svc, { paymentMode: 'POSTPAID', creditLimit: '5.00' });
    const a = await gql(svc, APPLY, { i: charge(post.billingAccountId, { paymentMode: 'POSTPAID', units: '4' }) });
    const b = await gql(svc, APPLY, { i: charge(post.billingAccountId, { paymentMode: 'POSTPAID', units: '4' }) });
    expect([a.applyCharge.result.outcome, b.applyCharge.result.outcome]).toEqual(['APPLIED', 'PARTIAL']);
    const w = await gql(svc, `query($id: ID!) { wallet(id: $id) { unbilled { amount } available { amount } } }`, { id: post.walletId });
    expect(w.wallet).toEqual({ unbilled: { amount: '5' }, available: { amount: '0' } });
    const pre = await openPrepaid(svc, { balance: '1.00', overdraftLimit: '3.00' });
    const c = await gql(svc, APPLY, { i: charge(pre.billingAccountId, { units: '3', allowOverdraft: true }) });
    const d = await gql(svc, APPLY, { i: charge(pre.billingAccountId, { units: '3', allowOverdraft: false }) });
    expect([c.applyCharge.result.outcome, d.applyCharge.result.outcome]).toEqual(['APPLIED', 'DENIED']);
    expect(await balanceOf(svc, pre.walletId)).toBe('-2');
  });

  it('consumes ChargeRequests from JetStream, alone or many to a message, and publishes one ChargeResult per charge', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '100.00' });
    const before = await scrapeMetrics(svc);
    const js = jetstream(svc.runtime.messaging.nc);
    const charges = Array.from({ length: 40 }, () => charge(billingAccountId, { units: '1', pricePerUnit: '0.25' }));
    const results = new Map<string, ChargeResult>();
    const sub = svc.runtime.messaging.nc.subscribe(WORK_SUBJECTS.chargeApplied, { callback: (_e, m) => collect(m.json(), billingAccountId, results) });
    // Ten alone, thirty in one message (a JSON array, as usage publishes a batch).
    for (const c of charges.slice(0, 10)) await js.publish(WORK_SUBJECTS.chargeRequested, JSON.stringify(c), { msgID: c.chargeId });
    await js.publish(WORK_SUBJECTS.chargeRequested, JSON.stringify(charges.slice(10)), { msgID: uniq('chunk') });
    // A redelivered charge (a new message id, same chargeId) changes nothing.
    await js.publish(WORK_SUBJECTS.chargeRequested, JSON.stringify(charges[0]), { msgID: `${charges[0]!.chargeId}-again` });
    const deadline = Date.now() + 45_000;
    while (results.size < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    sub.unsubscribe();
    expect(results.size).toBe(40);
    expect([...results.values()].every((r) => r.outcome === 'APPLIED' && r.amountCharged === '0.250000')).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(await balanceOf(svc, walletId)).toBe('90');
    // The consumer publishes results itself (after the commit): none went through the outbox.
    expect(await dbOf(svc).query(`select id from outbox where id = any($1::text[])`, [charges.map((c) => chargeResultMessageId(c.chargeId))])).toEqual([]);

    // Unreadable messages are dropped, logged and counted: /metrics tells the operator.
    await js.publish(WORK_SUBJECTS.chargeRequested, 'not json', { msgID: uniq('garbage') });
    await js.publish(WORK_SUBJECTS.chargeRequested, JSON.stringify([{ billingAccountId, units: '1' }]), { msgID: uniq('nameless') });
    let after = await scrapeMetrics(svc);
    const delta = (key: string) => (after[key] ?? 0) - (before[key] ?? 0);
    while ((delta('ledgerline_wallets_charge_messages_dropped_total{reason="NOT_JSON"}') < 1 || delta('ledgerline_wallets_charge_messages_dropped_total{reason="NO_CHARGE_ID"}') < 1) && Date.now() < deadline + 15_000) {
      await new Promise((r) => setTimeout(r, 100));
      after = await scrapeMetrics(svc);
    }
    expect(delta('ledgerline_wallets_charge_messages_dropped_total{reason="NOT_JSON"}')).toBe(1);
    expect(delta('ledgerline_wallets_charge_messages_dropped_total{reason="NO_CHARGE_ID"}')).toBe(1);
    // 40 charges, and the redelivered one answered again from the ledger.
    expect(delta('ledgerline_wallets_charges_total{outcome="APPLIED"}')).toBe(41);
    expect(delta('ledgerline_wallets_charge_batch_seconds_count')).toBeGreaterThanOrEqual(1);
  });

  it('a crash after the commit, before the results were published, loses no result: the redelivered requests are answered from the ledger', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const charges = Array.from({ length: 5 }, () => charge(billingAccountId, { pricePerUnit: '1.00' }));
    // What the consumer did before it died: the ledger transaction committed, nothing published, nothing acknowledged.
    const applied = await applyCharges(dbOf(svc), charges as ChargeRequest[], T0, { results: 'caller' });
    expect(applied.map((r) => r.outcome)).toEqual(Array(5).fill('APPLIED'));
    expect(await balanceOf(svc, walletId)).toBe('5');

    const results = new Map<string, ChargeResult>();
    const sub = svc.runtime.messaging.nc.subscribe(WORK_SUBJECTS.chargeApplied, { callback: (_e, m) => collect(m.json(), billingAccountId, results) });
    // JetStream redelivers the unacknowledged requests (here: published again under new message ids).
    const js = jetstream(svc.runtime.messaging.nc);
    for (const c of charges) await js.publish(WORK_SUBJECTS.chargeRequested, JSON.stringify(c), { msgID: `${c.chargeId}-redelivered` });
    const deadline = Date.now() + 45_000;
    while (results.size < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    sub.unsubscribe();
    expect([...results.values()].map((r) => [r.outcome, r.amountCharged])).toEqual(Array(5).fill(['APPLIED', '1.000000']));
    expect(await balanceOf(svc, walletId)).toBe('5');
  });
});

describe('bad input gets a coded error and changes nothing', () => {
  it.each([
    ['negative amount', { amount: { amount: '-5.00', currency: 'EUR' } }, 'AMOUNT_NOT_POSITIVE'],
    ['zero amount', { amount: { amount: '0', currency: 'EUR' } }, 'AMOUNT_NOT_POSITIVE'],
    ['wrong currency', { amount: { amount: '5.00', currency: 'USD' } }, 'WALLET_CURRENCY_MISMATCH'],
    ['unknown wallet', { billingAccountId: 'acc_nobody' }, 'WALLET_NOT_FOUND'],
  ])('topupBalance with %s', async (_name, over, reason) => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '5.00' });
    const res = await svc.request(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, {
      i: { billingAccountId, amount: { amount: '5.00', currency: 'EUR' }, idempotencyKey: uniq('key'), ...over },
    });
    expect(res.errors?.[0]?.extensions?.reason).toBe(reason);
    expect(await balanceOf(svc, walletId)).toBe('5');
  });

  it('an idempotency key reused with other input is a CONFLICT; with the same input the same result', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc);
    const key = uniq('key');
    const a = await topup(svc, billingAccountId, '5.00', key);
    const b = await topup(svc, billingAccountId, '5.00', key);
    expect(b.topupBalance.topupBalance.id).toBe(a.topupBalance.topupBalance.id);
    const c = await svc.request(`mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id } } }`, { i: { billingAccountId, amount: { amount: '6.00', currency: 'EUR' }, idempotencyKey: key } });
    expect(c.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await balanceOf(svc, walletId)).toBe('5');
  });

  it('a debit beyond the overdraft limit is refused', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '5.00', overdraftLimit: '1.00' });
    const res = await svc.request(`mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id } } }`, { i: { walletId, amount: { amount: '-6.01', currency: 'EUR' }, reason: 'test debit', idempotencyKey: uniq('key') } });
    expect(res.errors?.[0]?.extensions?.reason).toBe('WALLET_INSUFFICIENT_BALANCE');
    expect(await balanceOf(svc, walletId)).toBe('5');
  });
});
