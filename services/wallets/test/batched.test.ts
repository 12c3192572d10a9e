import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RPC, type ChargeRequest, type ChargeResult, type WalletReserveReply, type WalletSessionReply } from '@ledgerline/contracts';
import { scrapeMetrics, type TestService } from '@ledgerline/platform';
import { T0, balanceOf, charge, dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { ChargeLanes, applyCharges, applyChargesInLanes, chargeResultMessageId, laneOf } from '../src/application/apply-charges';
import { reserveMany } from '../src/application/reservations';

// The batched paths: many charges in one transaction, and reservations grouped over NATS.
let svc: TestService;
// Own RPC subjects: other wallets services (other test runs) may share this NATS server.
const PREFIX = `${uniq('t')}.`;
beforeAll(async () => {
  ({ svc } = await startWallets({ WALLETS_RPC_PREFIX: PREFIX }));
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const c = (billingAccountId: string, over: Partial<ChargeRequest> = {}) => charge(billingAccountId, over) as unknown as ChargeRequest;
const txCount = async (chargeIds: string[]) =>
  Number((await dbOf(svc).query<{ n: string }>(`select count(*) n from ledger_transaction where idempotency_key = any($1::text[])`, [chargeIds.map((id) => `CHARGE:${id}`)]))[0]!.n);

describe('batched charges', () => {
  it('32 concurrent batches on one wallet funded for exactly 11 debits: exactly 11 applied, never below zero', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '11.00' });
    const other = await openPrepaid(svc, { balance: '100.00' });
    // Each batch also touches a second wallet, in varying order, so lock ordering is exercised.
    const batches = Array.from({ length: 32 }, (_, i) => (i % 2 ? [c(billingAccountId), c(other.billingAccountId)] : [c(other.billingAccountId), c(billingAccountId)]));
    const results = (await Promise.all(batches.map((b) => applyCharges(dbOf(svc), b, T0)))).flat().filter((r) => r.billingAccountId === billingAccountId);
    expect(results.filter((r) => r.outcome === 'APPLIED')).toHaveLength(11);
    expect(results.filter((r) => r.outcome === 'DENIED' && r.reason === 'WALLET_INSUFFICIENT_BALANCE')).toHaveLength(21);
    expect(await balanceOf(svc, walletId)).toBe('0');
    expect(await balanceOf(svc, other.walletId)).toBe('68');
  });

  it('in lanes: an account is decided in arrival order across transactions, each chargeId once, every charge answered', async () => {
    // Wallet A is funded for exactly 3 of its 6 charges, which are spread among 40 other accounts'
    // charges; 3 lanes of 4-charge transactions make A's charges span several transactions.
    const a = await openPrepaid(svc, { balance: '3.00' });
    const others = await Promise.all(Array.from({ length: 8 }, () => openPrepaid(svc, { balance: '100.00' })));
    const mine = Array.from({ length: 6 }, (_, i) => c(a.billingAccountId, { chargeId: `${uniq('lane')}-${i}` }));
    const input: ChargeRequest[] = [];
    for (let i = 0; i < 6; i++) input.push(mine[i]!, ...others.slice(0, 5).map((o) => c(o.billingAccountId)), ...others.slice(5).map((o) => c(o.billingAccountId)));
    // The same chargeId again, naming another account: taken once (the first), whatever lane the
    // copy would go to; the copy is another charge, so it is refused (answered last).
    input.push({ ...mine[0]!, billingAccountId: others[0]!.billingAccountId });
    let extraBatches = 0;
    const results = await applyChargesInLanes(dbOf(svc), input, T0, { lanes: 3, batchSize: 4, onBatch: () => extraBatches++ });
    expect(results).toHaveLength(input.length);
    expect(results.map((r) => r.chargeId)).toEqual(input.map((x) => x.chargeId));
    expect(results.at(-1)).toMatchObject({ outcome: 'REJECTED', billingAccountId: others[0]!.billingAccountId });
    expect(results.at(-1)!.reason).toMatch(/^CHARGE_ID_CONFLICT/);
    expect(extraBatches).toBeGreaterThan(3);
    expect(mine.map((m) => results.find((r) => r.chargeId === m.chargeId)!.outcome)).toEqual(['APPLIED', 'APPLIED', 'APPLIED', 'DENIED', 'DENIED', 'DENIED']);
    expect(await balanceOf(svc, a.walletId)).toBe('0');
    expect(await txCount(mine.map((m) => m.chargeId))).toBe(6); // one each, denials recorded too (a retry answers the same)
    for (const o of others) expect(await balanceOf(svc, o.walletId)).toBe('94');
    // An account's lane is a function of its id alone (stable across fetches and restarts).
    expect(new Set(Array.from({ length: 5 }, () => laneOf(a.billingAccountId, 3))).size).toBe(1);
  });

  it('lanes across calls: a call handed over before the last is written keeps each account in arrival order, and no lane waits for another', async () => {
    const lanes = new ChargeLanes(dbOf(svc), { lanes: 2, batchSize: 1, results: 'caller' });
    // Two accounts on different lanes; A is funded for exactly its first 5 charges.
    const a = await openPrepaid(svc, { balance: '5.00' });
    let b = await openPrepaid(svc, { balance: '5.00' });
    while (laneOf(b.billingAccountId, 2) === laneOf(a.billingAccountId, 2)) b = await openPrepaid(svc, { balance: '5.00' });
    const finished: string[] = [];
    // Call 1: A's first 5 charges, one transaction each (batchSize 1). Call 2, handed over at once:
    // A's sixth (must wait for all 5, so it is the one refused) and one of B's (its lane is free: done first).
    const first = lanes.apply(Array.from({ length: 5 }, () => c(a.billingAccountId)), T0).then((r) => (finished.push('first'), r));
    const sixth = c(a.billingAccountId);
    const second = lanes.apply([sixth, c(b.billingAccountId)], T0).then((r) => (finished.push('second'), r));
    const onlyB = lanes.apply([c(b.billingAccountId)], T0).then((r) => (finished.push('onlyB'), r));
    const [r1, r2, r3] = await Promise.all([first, second, onlyB]);
    expect(r1.map((r) => r.outcome)).toEqual(['APPLIED', 'APPLIED', 'APPLIED', 'APPLIED', 'APPLIED']);
    expect(r2.map((r) => [r.billingAccountId, r.outcome])).toEqual([[a.billingAccountId, 'DENIED'], [b.billingAccountId, 'APPLIED']]);
    expect(r3.map((r) => r.outcome)).toEqual(['APPLIED']);
    expect(finished.indexOf('onlyB')).toBeLessThan(finished.indexOf('first'));
    expect(await balanceOf(svc, a.walletId)).toBe('0');
    expect(await balanceOf(svc, b.walletId)).toBe('3');
  });

  it('lanes across calls: a call whose transaction fails does not stop the next call on its lane', async () => {
    const lanes = new ChargeLanes(dbOf(svc), { lanes: 2, batchSize: 1000, results: 'caller' });
    const broken = await openPrepaid(svc, { balance: '5.00' });
    let fine = await openPrepaid(svc, { balance: '5.00' });
    while (laneOf(fine.billingAccountId, 2) !== laneOf(broken.billingAccountId, 2)) fine = await openPrepaid(svc, { balance: '5.00' });
    // Its revenue account missing, a charge of `broken` fails its whole transaction (LL001).
    const revenue = `${broken.billingAccountId}:REVENUE:EUR`;
    await dbOf(svc).query(`delete from ledger_account where id = $1`, [revenue]);
    try {
      const failing = lanes.apply([c(broken.billingAccountId)], T0);
      const next = lanes.apply([c(fine.billingAccountId)], T0);
      await expect(failing).rejects.toThrow(/ledger account/);
      expect((await next).map((r) => r.outcome)).toEqual(['APPLIED']);
    } finally {
      await dbOf(svc).query(`insert into ledger_account (id, billing_account_id, kind, unit, balance, created_at) values ($1, $2, 'REVENUE', 'EUR', null, now())`, [revenue, broken.billingAccountId]);
    }
    expect(await balanceOf(svc, broken.walletId)).toBe('5');
    expect(await balanceOf(svc, fine.walletId)).toBe('4');
  });

  it('a duplicate within a batch and across batches has one effect and gets the first result', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const a = c(billingAccountId, { pricePerUnit: '2.00' });
    const b = c(billingAccountId, { pricePerUnit: '3.00' });
    const first = await applyCharges(dbOf(svc), [a, b, a, { ...a }], T0);
    expect(first.map((r) => [r.chargeId, r.outcome])).toEqual([[a.chargeId, 'APPLIED'], [b.chargeId, 'APPLIED']]);
    const d = c(billingAccountId, { pricePerUnit: '1.00' });
    // Across batches: a and b again (b's price written otherwise: the same charge) are answered from
    // the ledger; d is new. (Other content under a chargeId: charge-id-conflict.test.ts.)
    const second = await applyCharges(dbOf(svc), [{ ...b, pricePerUnit: '3.0' }, d, a], T0);
    expect(second.find((r) => r.chargeId === b.chargeId)).toEqual(first[1]);
    expect(second.find((r) => r.chargeId === a.chargeId)).toEqual(first[0]);
    expect(second.find((r) => r.chargeId === d.chargeId)?.outcome).toBe('APPLIED');
    expect(await balanceOf(svc, walletId)).toBe('4');
    expect(await txCount([a.chargeId, b.chargeId, d.chargeId])).toBe(3);
    const outbox = await dbOf(svc).query(`select id from outbox where id = any($1::text[])`, [[a, b, d].map((x) => chargeResultMessageId(x.chargeId))]);
    expect(outbox).toHaveLength(3);
  });

  it('the ledger keeps a charge\'s decision only; a repeat is answered with the whole first result, reason and echo included', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '1.00' });
    const denied = c(billingAccountId, { pricePerUnit: '5.00', zone: 'ROAMING_EU', adjustsInvoiceId: 'inv_x' } as Partial<ChargeRequest>);
    const [first] = await applyCharges(dbOf(svc), [denied], T0);
    expect(first).toMatchObject({ outcome: 'DENIED', reason: 'WALLET_INSUFFICIENT_BALANCE', zone: 'ROAMING_EU', adjustsInvoiceId: 'inv_x' });
    const [stored] = await dbOf(svc).query<{ outcome: Record<string, unknown> }>(`select outcome from ledger_transaction where idempotency_key = $1`, [`CHARGE:${denied.chargeId}`]);
    expect(stored!.outcome).toEqual({ outcome: 'DENIED', units: first!.units, unitsFromAllowances: first!.unitsFromAllowances, amountCharged: first!.amountCharged, reason: 'WALLET_INSUFFICIENT_BALANCE' });
    expect(await applyCharges(dbOf(svc), [denied], new Date(T0.getTime() + 60_000))).toEqual([first]);
  });

  it('a charge stored with its whole ChargeResult (as before) is answered with it as stored', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    const old = c(billingAccountId, { pricePerUnit: '1.00' });
    const [first] = await applyCharges(dbOf(svc), [old], T0);
    await dbOf(svc).query(`update ledger_transaction set outcome = $2::jsonb where idempotency_key = $1`, [`CHARGE:${old.chargeId}`, JSON.stringify({ ...first, lineId: 'lin_as_stored' })]);
    expect(await applyCharges(dbOf(svc), [old], T0)).toEqual([{ ...first, lineId: 'lin_as_stored' }]);
  });

  it('one bad charge among good ones is refused on its own; the others are applied', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const good1 = c(billingAccountId);
    const bad = c(billingAccountId, { units: '-3' });
    const unknown = c('acc_nobody');
    const tooBig = c(billingAccountId, { units: '100' });
    const good2 = c(billingAccountId, { units: '2' });
    const results = await applyCharges(dbOf(svc), [good1, bad, unknown, tooBig, good2], T0);
    const byId = new Map(results.map((r) => [r.chargeId, r]));
    expect(byId.get(good1.chargeId)?.outcome).toBe('APPLIED');
    expect(byId.get(bad.chargeId)).toMatchObject({ outcome: 'DENIED', amountCharged: '0.000000' });
    expect(byId.get(bad.chargeId)?.reason).toMatch(/^RATING_FAILED/);
    expect(byId.get(unknown.chargeId)).toMatchObject({ outcome: 'DENIED', reason: 'USER_UNKNOWN' });
    // 100 units at 1.00 with 9.00 left: only what is left is granted.
    expect(byId.get(tooBig.chargeId)).toMatchObject({ outcome: 'PARTIAL', units: '9', reason: 'WALLET_INSUFFICIENT_BALANCE' });
    expect(byId.get(good2.chargeId)).toMatchObject({ outcome: 'DENIED', reason: 'WALLET_INSUFFICIENT_BALANCE' });
    expect(await balanceOf(svc, walletId)).toBe('0');
    // Every charge has its one ledger transaction (refusals too), so a retry changes nothing.
    expect(await txCount(results.map((r) => r.chargeId))).toBe(5);
  });

  it('the ChargeResult echoes zone, adjustsInvoiceId and usageRecordId (returned and published)', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    const roaming = c(billingAccountId, { zone: 'ROAMING_EU', adjustsInvoiceId: 'inv_123', usageRecordId: 'usg_123' });
    const plain = c(billingAccountId);
    const [r1, r2] = await applyCharges(dbOf(svc), [roaming, plain], T0);
    expect(r1).toMatchObject({ zone: 'ROAMING_EU', adjustsInvoiceId: 'inv_123', usageRecordId: 'usg_123', outcome: 'APPLIED' });
    expect(r2!.zone).toBeUndefined();
    expect(r2!.adjustsInvoiceId).toBeUndefined();
    expect(r2!.usageRecordId).toBeUndefined();
    const [row] = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where id = $1`, [chargeResultMessageId(roaming.chargeId)]);
    expect(JSON.parse(row!.payload) as ChargeResult).toMatchObject({ zone: 'ROAMING_EU', adjustsInvoiceId: 'inv_123', usageRecordId: 'usg_123' });
    // A duplicate is answered with the stored result, echo included.
    expect((await applyCharges(dbOf(svc), [roaming], T0))[0]).toEqual(r1);
  });
});

describe('grouped reservations', () => {
  const req = (billingAccountId: string, over: Record<string, unknown> = {}) => ({
    requestId: uniq('rq'), sessionId: uniq('s'), billingAccountId, currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '10', pricePerUnit: '0.10', allowanceIds: [], ...over,
  });

  it('one batch decides each request on its own: some granted, some refused, duplicates answered the same', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '3.50' });
    const dup = req(billingAccountId);
    const reqs = [req(billingAccountId), dup, req(billingAccountId, { requestedUnits: '0' }), req('acc_nobody'), { ...dup }, req(billingAccountId), req(billingAccountId), req(billingAccountId)];
    const replies = await dbOf(svc).tx((sql) => reserveMany(sql, reqs as never, T0));
    expect(replies.map((r) => r.resultCode)).toEqual(['SUCCESS', 'SUCCESS', 'RATING_FAILED', 'USER_UNKNOWN', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'QUOTA_LIMIT_REACHED']);
    expect(replies[4]!.reservationId).toBe(replies[1]!.reservationId);
    // 3.50 holds three 1.00 reservations and then 5 MB (a final unit indication), then nothing.
    expect(replies[6]).toMatchObject({ grantedUnit: { units: '5', amount: '0.500000' }, finalUnitIndication: { finalUnitAction: 'TERMINATE' } });
    expect(replies[2]!.error?.code).toBe('AMOUNT_NOT_POSITIVE');
    expect(await balanceOf(svc, walletId)).toBe('0');
    const again = await dbOf(svc).tx((sql) => reserveMany(sql, [dup] as never, T0));
    expect(again[0]!.reservationId).toBe(replies[1]!.reservationId);
    // The same requestId asking for something else (more units, another session) is refused and holds nothing.
    // Within a batch too (free units: granted whatever the balance).
    const free = req(billingAccountId, { pricePerUnit: '0' });
    const reused = await dbOf(svc).tx((sql) => reserveMany(sql, [{ ...dup, requestedUnits: '20' }, { ...dup, sessionId: 'another' }, dup, free, { ...free, requestedUnits: '11' }] as never, T0));
    expect(reused.map((r) => r.error?.code ?? r.resultCode)).toEqual(['IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_KEY_REUSED', 'SUCCESS', 'SUCCESS', 'IDEMPOTENCY_KEY_REUSED']);
    expect(reused[2]!.reservationId).toBe(replies[1]!.reservationId);
    expect((await dbOf(svc).query<{ n: string }>(`select count(*) n from reservation where request_key = $1`, [dup.requestId]))[0]!.n).toBe('1');
  });

  it('over NATS: 40 concurrent reserves on a wallet funded for 15 → exactly 15 granted; a bad request fails alone; commits and releases are grouped too', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '15.00' });
    const before = await scrapeMetrics(svc);
    const nc = svc.runtime.messaging.nc;
    const ask = async <T>(subject: string, body: unknown) => (await nc.request(`${PREFIX}${subject}`, JSON.stringify(body), { timeout: 10_000 })).json<T>();
    // A grant whose ledger account is missing: a database error inside the batch (LL001, the ledger write
    // checks its accounts), then each request is retried alone. (Input that does not fit a column is refused
    // before the database now, so it no longer makes one.)
    const other = await openPrepaid(svc, { balance: '5.00' });
    const reservedMoney = `${other.billingAccountId}:RESERVED:EUR`;
    await dbOf(svc).query(`delete from ledger_account where id = $1`, [reservedMoney]);
    const poison = req(other.billingAccountId);
    const replies = await Promise.all([...Array.from({ length: 20 }, () => req(billingAccountId)), poison, ...Array.from({ length: 20 }, () => req(billingAccountId))].map((r) => ask<WalletReserveReply>(RPC.walletReserve, r)))
      .finally(() => dbOf(svc).query(`insert into ledger_account (id, billing_account_id, kind, unit, balance, created_at) values ($1, $2, 'RESERVED', 'EUR', 0, now())`, [reservedMoney, other.billingAccountId]));
    const granted = replies.filter((r) => r.resultCode === 'SUCCESS');
    expect(granted).toHaveLength(15);
    expect(replies.filter((r) => r.resultCode === 'QUOTA_LIMIT_REACHED')).toHaveLength(25);
    expect(replies[20]).toMatchObject({ resultCode: 'RATING_FAILED', error: { code: 'INTERNAL' } });
    expect(await balanceOf(svc, walletId)).toBe('0');
    const closes = await Promise.all(granted.map((g, i) => (i % 3 === 0 ? ask<WalletSessionReply>(RPC.walletRelease, { reservationId: g.reservationId }) : ask<WalletSessionReply>(RPC.walletCommit, { reservationId: g.reservationId, usedUnits: '4' }))));
    expect(closes.every((r) => r.resultCode === 'SUCCESS')).toBe(true);
    expect(closes.filter((r) => r.status === 'RELEASED')).toHaveLength(5);
    // 10 commits charge 0.40 each; everything else comes back.
    expect(await balanceOf(svc, walletId)).toBe('11');
    const twice = await Promise.all([ask<WalletSessionReply>(RPC.walletCommit, { reservationId: granted[1]!.reservationId, usedUnits: '9' }), ask<WalletSessionReply>(RPC.walletCommit, { reservationId: 'rsv_nope', usedUnits: '1' })]);
    // A repeated commit answers what the first one charged (4 MB at 0.10), whatever it reports.
    expect(twice[0]).toMatchObject({ resultCode: 'SUCCESS', status: 'COMMITTED', usedUnits: '4', unitsFromAllowances: '0', amountCharged: '0.400000' });
    expect(twice[1]).toMatchObject({ resultCode: 'USER_UNKNOWN', error: { code: 'RESERVATION_NOT_FOUND' } });
    expect(await balanceOf(svc, walletId)).toBe('11');

    // /metrics counts every request by operation and result code, and times each in the service.
    const after = await scrapeMetrics(svc);
    const delta = (key: string) => (after[key] ?? 0) - (before[key] ?? 0);
    expect(delta('ledgerline_wallets_online_requests_total{operation="reserve",result_code="SUCCESS"}')).toBe(15);
    expect(delta('ledgerline_wallets_online_requests_total{operation="reserve",result_code="QUOTA_LIMIT_REACHED"}')).toBe(25);
    expect(delta('ledgerline_wallets_online_requests_total{operation="reserve",result_code="RATING_FAILED"}')).toBe(1);
    expect(delta('ledgerline_wallets_online_requests_total{operation="commit",result_code="SUCCESS"}')).toBe(11);
    expect(delta('ledgerline_wallets_online_requests_total{operation="commit",result_code="USER_UNKNOWN"}')).toBe(1);
    expect(delta('ledgerline_wallets_online_requests_total{operation="release",result_code="SUCCESS"}')).toBe(5);
    expect(delta('ledgerline_wallets_online_request_seconds_count{operation="reserve"}')).toBe(41);
    expect(delta('ledgerline_wallets_online_request_seconds_bucket{le="+Inf",operation="reserve"}')).toBe(41);
  });
});
