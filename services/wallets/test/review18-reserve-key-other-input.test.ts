// review18: reserve is idempotent by requestId, but sameReserve compared session, wallet, unit,
// line, requestedUnits and pricePerUnit only (what the reservation row holds): the same requestId
// with other allowanceIds or another allowOverdraft was answered with the first reservation instead
// of IDEMPOTENCY_KEY_REUSED (CONVENTIONS 5: same key + other input -> conflict). A reservation now
// keeps its request's fingerprint (`request_hash`, reserveFingerprint) and a repeat is compared by
// it; a reservation made before (no fingerprint) is compared as before.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RPC, type WalletReserveReply, type WalletReserveRequest } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { closeMany, reserve, reserveMany } from '../src/application/reservations';

const PREFIX = `${uniq('t')}.`;
let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets({ WALLETS_RPC_PREFIX: PREFIX }));
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const DAY = 86_400_000;
const REFUSED = { resultCode: 'RATING_FAILED', error: { code: 'IDEMPOTENCY_KEY_REUSED' } };

/** A prepaid wallet with 1.00 (overdraft 10.00) and 100 MB of allowance `data`. */
async function account() {
  const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '1.00', overdraftLimit: '10.00' });
  await gql(svc, `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id } } }`, {
    i: { billingAccountId, allowanceId: 'data', name: 'data', unit: 'MB', quantity: '100', priority: 100, validFrom: new Date(T0.getTime() - DAY).toISOString(), validTo: new Date(T0.getTime() + 30 * DAY).toISOString(), grantKey: uniq('grant') },
  });
  return { billingAccountId, walletId };
}

const request = (billingAccountId: string, over: Partial<WalletReserveRequest> = {}): WalletReserveRequest => ({
  requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '5', pricePerUnit: '1', allowanceIds: [], allowOverdraft: false, ...over,
});

const reserveOne = (req: WalletReserveRequest) => dbOf(svc).tx((sql) => reserve(sql, req, T0));
const holdsOf = async (requestId: string) => (await dbOf(svc).query<{ n: string }>(`select count(*) n from reservation where request_key = $1`, [requestId]))[0]!.n;
const release = (reservationId: string) => dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId, usedUnits: '0', closing: 'RELEASED' }], T0));

describe('review18: reserve, same requestId with other input', () => {
  it('another allowOverdraft and allowanceIds under a taken requestId is refused', async () => {
    const { billingAccountId: acc } = await openPrepaid(svc, { balance: '1.00', overdraftLimit: '10.00' });
    const db = dbOf(svc);
    const req = request(acc);
    const first = await db.tx((sql) => reserve(sql, req, T0));
    expect(first).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '1' } });
    const other = await db.tx((sql) => reserve(sql, { ...req, allowOverdraft: true, allowanceIds: ['data'] }, T0));
    await release(first.reservationId!);
    expect(other).toMatchObject(REFUSED);
  });

  it('the same requestId with the same input (decimals and defaults written otherwise) gets the same answer and holds nothing more', async () => {
    const { billingAccountId, walletId } = await account();
    const req = request(billingAccountId, { allowanceIds: ['data'], requestedUnits: '105', pricePerUnit: '0.01', allowOverdraft: false });
    const first = await reserveOne(req);
    expect(first).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '105', unitsFromAllowances: '100', amount: '0.050000' } });
    const { allowOverdraft: _o, ...noOverdraft } = req;
    const again = await Promise.all([req, { ...req }, { ...noOverdraft, requestedUnits: '105.000', pricePerUnit: '0.0100', validitySeconds: 300 }].map(reserveOne));
    expect(again).toEqual([first, first, first]);
    expect(await holdsOf(req.requestId)).toBe('1');
    expect(await balanceOf(svc, walletId)).toBe('0.95');
    await release(first.reservationId!);
  });

  it('other allowanceIds (another allowance, none, another order) under a taken requestId are refused and hold nothing', async () => {
    const { billingAccountId, walletId } = await account();
    const req = request(billingAccountId, { allowanceIds: ['data'], pricePerUnit: '0.10' });
    const first = await reserveOne(req);
    expect(first).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '5', unitsFromAllowances: '5' } });
    for (const allowanceIds of [[], ['voice'], ['data', 'voice'], ['voice', 'data']]) expect(await reserveOne({ ...req, allowanceIds })).toMatchObject(REFUSED);
    // And the other way round: a reservation made with none is not answered to a request naming one.
    const plain = request(billingAccountId, { pricePerUnit: '0.10' });
    expect(await reserveOne(plain)).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { unitsFromAllowances: '0' } });
    expect(await reserveOne({ ...plain, allowanceIds: ['data'] })).toMatchObject(REFUSED);
    expect([await holdsOf(req.requestId), await holdsOf(plain.requestId)]).toEqual(['1', '1']);
    expect(await balanceOf(svc, walletId)).toBe('0.5');
    for (const r of [first, (await reserveOne(plain))]) await release(r.reservationId!);
  });

  it('another allowOverdraft under a taken requestId is refused, either way, and holds nothing', async () => {
    const { billingAccountId, walletId } = await account();
    const without = request(billingAccountId);
    const withIt = request(billingAccountId, { allowOverdraft: true });
    const [a, b] = [await reserveOne(without), await reserveOne(withIt)];
    expect(a).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '1' } });
    expect(b).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '5' } });
    const { allowOverdraft: _o, ...omitted } = withIt;
    expect(await reserveOne({ ...without, allowOverdraft: true })).toMatchObject(REFUSED);
    expect(await reserveOne({ ...withIt, allowOverdraft: false })).toMatchObject(REFUSED);
    expect(await reserveOne(omitted)).toMatchObject(REFUSED);
    expect(await balanceOf(svc, walletId)).toBe('-5');
    for (const r of [a, b]) await release(r.reservationId!);
  });

  it('within one batch: the first is decided, a copy with other input refused, an identical copy answered alike', async () => {
    const { billingAccountId } = await account();
    const req = request(billingAccountId);
    const replies = await dbOf(svc).tx((sql) => reserveMany(sql, [req, { ...req, allowOverdraft: true }, { ...req, allowanceIds: ['data'] }, { ...req }], T0));
    expect(replies[0]).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '1' } });
    expect(replies.slice(1, 3)).toMatchObject([REFUSED, REFUSED]);
    expect(replies[3]).toEqual(replies[0]);
    expect(await holdsOf(req.requestId)).toBe('1');
    await release(replies[0]!.reservationId!);
  });

  it('a reservation made before fingerprints were kept is answered as before: other allowanceIds / allowOverdraft get it, other units are refused', async () => {
    const { billingAccountId } = await account();
    const req = request(billingAccountId);
    const first = await reserveOne(req);
    expect((await dbOf(svc).query<{ request_hash: string | null }>(`select request_hash from reservation where id = $1`, [first.reservationId]))[0]!.request_hash).toMatch(/^[\w-]{16}$/);
    await dbOf(svc).query(`update reservation set request_hash = null where id = $1`, [first.reservationId]);
    expect(await reserveOne(req)).toEqual(first);
    expect(await reserveOne({ ...req, allowOverdraft: true, allowanceIds: ['data'], validitySeconds: 60 })).toEqual(first);
    expect(await reserveOne({ ...req, requestedUnits: '6' })).toMatchObject(REFUSED);
    expect(await reserveOne({ ...req, sessionId: 'another' })).toMatchObject(REFUSED);
    expect(await holdsOf(req.requestId)).toBe('1');
    await release(first.reservationId!);
  });

  it('over NATS (grouped) and over GraphQL: refused the same way', async () => {
    const { billingAccountId, walletId } = await account();
    const nc = svc.runtime.messaging.nc;
    const ask = async (body: WalletReserveRequest) => (await nc.request(`${PREFIX}${RPC.walletReserve}`, JSON.stringify(body), { timeout: 10_000 })).json<WalletReserveReply>();
    const req = request(billingAccountId);
    const first = await ask(req);
    expect(first).toMatchObject({ resultCode: 'SUCCESS', grantedUnit: { units: '1' } });
    const replies = await Promise.all([ask({ ...req, allowOverdraft: true }), ask({ ...req, allowanceIds: ['data'] }), ask({ ...req })]);
    expect(replies.slice(0, 2)).toMatchObject([REFUSED, REFUSED]);
    expect(replies[2]).toMatchObject({ resultCode: 'SUCCESS', reservationId: first.reservationId });

    const RESERVE = `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } error { code } } }`;
    const gqlReq = request(billingAccountId, { pricePerUnit: '0' }); // free units: granted with the balance at 0
    const viaGql = async (i: object) => (await gql(svc, RESERVE, { i })).reserveBalance;
    const made = await viaGql(gqlReq);
    expect(made).toMatchObject({ resultCode: 'SUCCESS', reservation: { id: expect.any(String) } });
    expect(await viaGql({ ...gqlReq, allowOverdraft: true })).toMatchObject({ resultCode: 'RATING_FAILED', reservation: null, error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    expect(await viaGql({ ...gqlReq, allowanceIds: ['data'] })).toMatchObject({ resultCode: 'RATING_FAILED', error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    const { allowOverdraft: _o, ...defaulted } = gqlReq; // the schema's default (false): the same request
    expect(await viaGql(defaulted)).toEqual(made);
    expect(await balanceOf(svc, walletId)).toBe('0');
    for (const id of [first.reservationId!, made.reservation.id]) await release(id);
  });
});
