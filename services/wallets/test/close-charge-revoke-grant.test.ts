// closeCharge and revokeBucketGrant: what a caller giving something back (subscribers, for a FAILED
// add-on order) settles first. closeCharge answers whether wallets took a charge, or closes its id
// so a late copy is refused (CHARGE_CLOSED) and never applied; revokeBucketGrant takes back what is
// left of a grant (bucket REVOKED, its units back to ALLOWANCE_GRANTED) or marks a grant never made
// so a late grant under its key is refused (GRANT_REVOKED). Ledger invariants after every test.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { applyCharges } from '../src/application/apply-charges';
import { APPLY, T0, balanceOf, charge, dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const CLOSE = `mutation($i: CloseChargeInput!) { closeCharge(input: $i) { taken outcome amountCharged { amount currency } reason } }`;
const GRANT = `mutation($i: GrantBucketInput!) { grantBucket(input: $i) { bucket { id status remaining } } }`;
const REVOKE = `mutation($i: RevokeBucketGrantInput!) { revokeBucketGrant(input: $i) { bucket { id status remaining } unitsRevoked } }`;
const BUCKETS = `query($a: ID!) { buckets(billingAccountId: $a, includeExpired: true) { id status remaining allowanceId } }`;
const LEDGER = `query($a: ID!) { ledgerEntries(billingAccountId: $a) { edges { node { id } } } }`;
const entries = async (a: string) => (await gql(svc, LEDGER, { a })).ledgerEntries.edges.length as number;
const grant = (billingAccountId: string, grantKey: string) => ({
  billingAccountId, lineId: 'lin_1', allowanceId: 'boost-data', unit: 'MB', quantity: '100', validFrom: T0.toISOString(), validTo: new Date(T0.getTime() + 30 * 86_400_000).toISOString(), grantKey,
});

describe('closeCharge', () => {
  it('a charge wallets took: answered taken (APPLIED, its amount), the same each time, nothing moves', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const c = charge(billingAccountId, { pricePerUnit: '4.00' });
    expect((await gql(svc, APPLY, { i: c })).applyCharge.result.outcome).toBe('APPLIED');
    for (let i = 0; i < 2; i++) {
      expect((await gql(svc, CLOSE, { i: { chargeId: c.chargeId, billingAccountId } })).closeCharge).toEqual({ taken: true, outcome: 'APPLIED', amountCharged: { amount: '4', currency: 'EUR' }, reason: null });
    }
    // The charge's own retry is still answered as it was.
    expect((await gql(svc, APPLY, { i: c })).applyCharge.result.outcome).toBe('APPLIED');
    expect(await balanceOf(svc, walletId)).toBe('6');
  });

  it('a charge that never reached wallets: answered not taken, and a late copy is refused (CHARGE_CLOSED) through GraphQL and the batch path; the ledger shows nothing', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '10.00' });
    const c = charge(billingAccountId, { pricePerUnit: '4.00' });
    const before = await entries(billingAccountId);
    expect((await gql(svc, CLOSE, { i: { chargeId: c.chargeId, billingAccountId } })).closeCharge).toEqual({ taken: false, outcome: null, amountCharged: null, reason: null });
    const late = (await gql(svc, APPLY, { i: c })).applyCharge.result;
    expect(late).toMatchObject({ outcome: 'DENIED', amountCharged: { amount: '0' } });
    expect(late.reason).toMatch(/^CHARGE_CLOSED/);
    const [batch] = await applyCharges(dbOf(svc), [{ ...c, occurredAt: T0.toISOString() } as any], T0);
    expect(batch).toMatchObject({ chargeId: c.chargeId, outcome: 'DENIED', amountCharged: '0.000000' });
    expect(batch!.reason).toMatch(/^CHARGE_CLOSED/);
    expect((await gql(svc, CLOSE, { i: { chargeId: c.chargeId, billingAccountId } })).closeCharge.taken).toBe(false);
    expect(await balanceOf(svc, walletId)).toBe('10');
    expect(await entries(billingAccountId)).toBe(before);
  });

  it('a charge racing the close of its id: either it lands and the close answers it taken, or it is refused and the close answers not taken', async () => {
    const { billingAccountId, walletId } = await openPrepaid(svc, { balance: '100.00' });
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const c = charge(billingAccountId, { pricePerUnit: '1.00' });
        const [applied, closed] = await Promise.all([svc.request<any>(APPLY, { i: c }), svc.request<any>(CLOSE, { i: { chargeId: c.chargeId, billingAccountId } })]);
        expect(applied.errors).toBeUndefined();
        expect(closed.errors).toBeUndefined();
        return { charged: applied.data.applyCharge.result.outcome === 'APPLIED', taken: closed.data.closeCharge.taken as boolean };
      }),
    );
    for (const o of outcomes) expect(o.taken, JSON.stringify(outcomes)).toBe(o.charged);
    expect(await balanceOf(svc, walletId)).toBe(String(100 - outcomes.filter((o) => o.charged).length));
  });

  it('staff only; a charge of another account is a CONFLICT; the charge id is required', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    const customer: Caller = { role: 'CUSTOMER', subject: 'c1', customerId: uniq('cus'), scopes: [] };
    expect((await svc.request<any>(CLOSE, { i: { chargeId: uniq('chg'), billingAccountId } }, customer)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await svc.request<any>(CLOSE, { i: { chargeId: ' ', billingAccountId } })).errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.chargeId' });
    const c = charge(billingAccountId);
    await gql(svc, APPLY, { i: c });
    const { billingAccountId: other } = await openPrepaid(svc);
    expect((await svc.request<any>(CLOSE, { i: { chargeId: c.chargeId, billingAccountId: other } })).errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'CHARGE_ID_CONFLICT' });
  });
});

describe('revokeBucketGrant', () => {
  it('a grant partly used: REVOKED, what is left moved back out of the bucket, charges naming the allowance draw nothing from it; again: the same answer', async () => {
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    const key = uniq('grant');
    const bucketId = (await gql(svc, GRANT, { i: grant(billingAccountId, key) })).grantBucket.bucket.id;
    const used = (await gql(svc, APPLY, { i: charge(billingAccountId, { units: '30', allowanceIds: ['boost-data'], pricePerUnit: '0.10' }) })).applyCharge.result;
    expect(used.unitsFromAllowances).toBe('30');
    for (let i = 0; i < 2; i++) {
      expect((await gql(svc, REVOKE, { i: { grantKey: key, billingAccountId } })).revokeBucketGrant).toEqual({ bucket: { id: bucketId, status: 'REVOKED', remaining: '0' }, unitsRevoked: '70' });
    }
    const after = (await gql(svc, APPLY, { i: charge(billingAccountId, { units: '5', allowanceIds: ['boost-data'], pricePerUnit: '0.10' }) })).applyCharge.result;
    expect(after).toMatchObject({ outcome: 'APPLIED', unitsFromAllowances: '0', amountCharged: { amount: '0.5' } });
    expect((await gql(svc, BUCKETS, { a: billingAccountId })).buckets).toEqual([{ id: bucketId, status: 'REVOKED', remaining: '0', allowanceId: 'boost-data' }]);
    // The grant's own retry replays the (revoked) bucket: nothing granted again.
    expect((await gql(svc, GRANT, { i: grant(billingAccountId, key) })).grantBucket.bucket).toEqual({ id: bucketId, status: 'REVOKED', remaining: '0' });
  });

  it('a grant never made: answered null, and a late grant under its key is refused (GRANT_REVOKED); nothing in the ledger', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const key = uniq('grant');
    const before = await entries(billingAccountId);
    expect((await gql(svc, REVOKE, { i: { grantKey: key, billingAccountId } })).revokeBucketGrant).toEqual({ bucket: null, unitsRevoked: '0' });
    const late = await svc.request<any>(GRANT, { i: grant(billingAccountId, key) });
    expect(late.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'GRANT_REVOKED' });
    expect((await gql(svc, REVOKE, { i: { grantKey: key, billingAccountId } })).revokeBucketGrant).toEqual({ bucket: null, unitsRevoked: '0' });
    expect((await gql(svc, BUCKETS, { a: billingAccountId })).buckets).toEqual([]);
    expect(await entries(billingAccountId)).toBe(before);
  });

  it('a grant racing its revoke: either it is made and revoked, or refused; never an active bucket left', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const key = uniq('grant');
        const [granted, revoked] = await Promise.all([svc.request<any>(GRANT, { i: grant(billingAccountId, key) }), svc.request<any>(REVOKE, { i: { grantKey: key, billingAccountId } })]);
        expect(revoked.errors).toBeUndefined();
        if (granted.errors) expect(granted.errors[0]?.extensions?.reason).toBe('GRANT_REVOKED');
        expect(revoked.data.revokeBucketGrant.bucket?.id ?? null).toBe(granted.data?.grantBucket.bucket.id ?? null);
      }),
    );
    const buckets = (await gql(svc, BUCKETS, { a: billingAccountId })).buckets as { status: string }[];
    expect(buckets.filter((b) => b.status !== 'REVOKED')).toEqual([]);
  });

  it('staff only; a grant of another account is a CONFLICT', async () => {
    const { billingAccountId } = await openPrepaid(svc);
    const key = uniq('grant');
    await gql(svc, GRANT, { i: grant(billingAccountId, key) });
    const customer: Caller = { role: 'CUSTOMER', subject: 'c1', customerId: uniq('cus'), scopes: [] };
    expect((await svc.request<any>(REVOKE, { i: { grantKey: key, billingAccountId } }, customer)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const { billingAccountId: other } = await openPrepaid(svc);
    expect((await svc.request<any>(REVOKE, { i: { grantKey: key, billingAccountId: other } })).errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
  });
});
