/**
 * A customer cannot tell another customer's wallet or account from one that does not exist through
 * the mutations a customer may call: setAutoTopup names a wallet (another customer's answers
 * WALLET_NOT_FOUND, as a made-up id), recharge and redeemVoucher name an account (any account not
 * the caller's is FORBIDDEN, whether or not it exists). Same code, reason, field and message (the
 * id replaced) for both. Staff keep the precise answers.
 *
 * Found: setAutoTopup (requireRowAccount) answered FORBIDDEN for another customer's wallet and
 * NOT_FOUND for an unknown one: an oracle of which wallet ids exist.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS, createCloudEvent, type Caller } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, gql, startWallets, topup, uniq } from './support';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());

/** A prepaid account of `customerId` (owner known from subscribers' event) with 10.00 EUR. */
async function ownedAccount(customerId: string) {
  const billingAccountId = uniq('acc');
  const event = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountCreated.type, subject: billingAccountId, time: T0, key: [billingAccountId], data: { billingAccountId, customerId, paymentMode: 'PREPAID', currency: 'EUR', creditLimit: null } });
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountCreated.subject, JSON.stringify(event));
  let walletId: string | undefined;
  for (let i = 0; i < 100 && !walletId; i++) {
    walletId = (await gql(svc, `query($a: ID!) { walletOf(billingAccountId: $a, currency: "EUR") { id } }`, { a: billingAccountId })).walletOf?.id;
    if (!walletId) await new Promise((r) => setTimeout(r, 100));
  }
  await topup(svc, billingAccountId, '10.00');
  return { billingAccountId, walletId: walletId! };
}

/** An id of the same shape as `id` (prefix, 32 hex digits) that names nothing. */
const madeUp = (id: string) => id.replace(/[0-9a-f]{32}$/, randomBytes(16).toString('hex'));

type Res = { data?: unknown; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] };
/** The answer as a client sees it, the id it named replaced by <id>. */
function answer(r: Res, id: string) {
  const e = r.errors?.[0];
  if (!e) return { ok: r.data };
  return { code: e.extensions?.code, reason: e.extensions?.reason, field: e.extensions?.field, message: e.message.split(id).join('<id>') };
}

type Ids = { billingAccountId: string; walletId: string };
/** [name, mutation, input for the ids, the id named, what a customer gets for both, what staff get for a made-up id]. */
const MUTATIONS: [string, string, (x: Ids) => Record<string, unknown>, (x: Ids) => string, string, string][] = [
  [
    'setAutoTopup',
    `mutation($i: SetAutoTopupInput!) { setAutoTopup(input: $i) { wallet { id } } }`,
    (x) => ({ walletId: x.walletId, enabled: true, threshold: '5', topupAmount: '10', paymentMethodToken: 'sandbox_approve' }),
    (x) => x.walletId,
    'WALLET_NOT_FOUND',
    'WALLET_NOT_FOUND',
  ],
  [
    'recharge',
    `mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id } } }`,
    (x) => ({ billingAccountId: x.billingAccountId, amount: { amount: '5.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: uniq('key') }),
    (x) => x.billingAccountId,
    'FORBIDDEN',
    'WALLET_NOT_FOUND',
  ],
  [
    'redeemVoucher',
    `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { wallet { id } } }`,
    (x) => ({ billingAccountId: x.billingAccountId, code: 'NOPE-NOPE', idempotencyKey: uniq('key') }),
    (x) => x.billingAccountId,
    'FORBIDDEN',
    'WALLET_NOT_FOUND',
  ],
];

const AGENT: Caller = { role: 'AGENT', subject: 'care-ann', scopes: [] };
const PARTNER: Caller = { role: 'PARTNER', subject: 'p', partnerId: 'prt_1', scopes: [] };

describe("a customer cannot probe which ids exist: another customer's object answers as a made-up one", () => {
  const me: Caller = { role: 'CUSTOMER', subject: 'alice', customerId: uniq('cus'), scopes: [] };
  let theirs: Ids;
  let unknown: Ids;
  beforeAll(async () => {
    await ownedAccount(me.customerId!);
    theirs = await ownedAccount(uniq('cus'));
    unknown = { billingAccountId: uniq('acc'), walletId: madeUp(theirs.walletId) };
    expect(unknown.walletId).not.toBe(theirs.walletId);
  });

  it.each(MUTATIONS)('%s', async (_name, query, input, named, customerReason, staffReason) => {
    const other = answer(await svc.request(query, { i: input(theirs) }, me), named(theirs));
    const none = answer(await svc.request(query, { i: input(unknown) }, me), named(unknown));
    expect(other).toEqual(none);
    expect(other.reason).toBe(customerReason);
    expect(await balanceOf(svc, theirs.walletId)).toBe('10');
    expect((await gql(svc, `query($id: ID!) { wallet(id: $id) { autoTopup { enabled } } }`, { id: theirs.walletId })).wallet.autoTopup?.enabled ?? false).toBe(false);

    // Staff keep the precise answer for a made-up id; a partner is refused by role, whatever the id.
    expect(answer(await svc.request(query, { i: input(unknown) }, AGENT), named(unknown)).reason).toBe(staffReason);
    const partner = [await svc.request(query, { i: input(theirs) }, PARTNER), await svc.request(query, { i: input(unknown) }, PARTNER)].map((r) => r.errors?.[0]?.extensions?.code);
    expect(partner).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });
});

/**
 * Reads of one object by id (`wallet(id)`, `reservation(id)`, `recharge(id)`, the Wallet entity):
 * another customer's answers exactly as a made-up id (null, no error), as subscribers' reads do.
 * Found: requireRowAccount answered FORBIDDEN for another customer's row and null for an unknown
 * id: an oracle of which wallet, reservation and recharge ids exist. Staff read every row; a
 * partner is refused by role, whatever the id (authorization-audit.test.ts).
 */
describe("a customer cannot probe which ids exist by reading: another customer's object reads as a made-up one", () => {
  const me: Caller = { role: 'CUSTOMER', subject: 'alice', customerId: uniq('cus'), scopes: [] };
  type Rows = { walletId: string; reservationId: string; rechargeId: string };
  let theirs: Rows;
  let unknown: Rows;
  let owner: Caller;
  beforeAll(async () => {
    await ownedAccount(me.customerId!);
    owner = { role: 'CUSTOMER', subject: 'bob', customerId: uniq('cus'), scopes: [] };
    const account = await ownedAccount(owner.customerId!);
    const reserved = await gql(svc, `mutation($i: ReserveBalanceInput!) { reserveBalance(input: $i) { resultCode reservation { id } } }`, {
      i: { requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId: account.billingAccountId, lineId: 'lin_probe', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '10', pricePerUnit: '0.01', allowanceIds: [] },
    });
    expect(reserved.reserveBalance.resultCode).toBe('SUCCESS');
    const recharged = await svc.request<any>(`mutation($i: RechargeInput!) { recharge(input: $i) { recharge { id } } }`, {
      i: { billingAccountId: account.billingAccountId, amount: { amount: '5.00', currency: 'EUR' }, method: 'BANK_TRANSFER', idempotencyKey: uniq('key') },
    }, owner);
    expect(recharged.errors).toBeUndefined();
    theirs = { walletId: account.walletId, reservationId: reserved.reserveBalance.reservation.id, rechargeId: recharged.data.recharge.recharge.id };
    unknown = { walletId: madeUp(theirs.walletId), reservationId: madeUp(theirs.reservationId), rechargeId: madeUp(theirs.rechargeId) };
    for (const k of ['walletId', 'reservationId', 'rechargeId'] as const) expect(unknown[k]).not.toBe(theirs[k]);
  });

  /** The whole response as a client sees it (data, and each error's message, code, reason, field), the id it named replaced by <id>. */
  const response = (r: Res, id: string) =>
    JSON.stringify({ data: r.data ?? null, errors: r.errors?.map((e) => ({ message: e.message, code: e.extensions?.code, reason: e.extensions?.reason, field: e.extensions?.field })) }).split(id).join('<id>');

  /** [name, query of one object by $id, the id named, the object's id in the answer (where found)]. */
  const READS: [string, string, (x: Rows) => string, (data: any) => unknown][] = [
    ['wallet(id)', `query($id: ID!) { wallet(id: $id) { id balance { amount } } }`, (x) => x.walletId, (d) => d?.wallet?.id],
    ['reservation(id)', `query($id: ID!) { reservation(id: $id) { id status } }`, (x) => x.reservationId, (d) => d?.reservation?.id],
    ['recharge(id)', `query($id: ID!) { recharge(id: $id) { id status } }`, (x) => x.rechargeId, (d) => d?.recharge?.id],
    ['Wallet (entity)', `query($id: ID!) { _entities(representations: [{ __typename: "Wallet", id: $id }]) { ... on Wallet { id balance { amount } } } }`, (x) => x.walletId, (d) => d?._entities?.[0]?.id],
  ];

  it.each(READS)('%s', async (_name, query, named, found) => {
    const other = await svc.request<any>(query, { id: named(theirs) }, me);
    const none = await svc.request<any>(query, { id: named(unknown) }, me);
    // The same response, and it is the unknown id's: nothing, no error.
    expect(response(other, named(theirs))).toBe(response(none, named(unknown)));
    expect(other.errors).toBeUndefined();
    expect(found(other.data) ?? null).toBeNull();

    // The owner and staff read it; staff read a made-up id as null; a partner is refused by role, whatever the id.
    expect(found((await svc.request<any>(query, { id: named(theirs) }, owner)).data)).toBe(named(theirs));
    expect(found((await svc.request<any>(query, { id: named(theirs) }, AGENT)).data)).toBe(named(theirs));
    expect(found((await svc.request<any>(query, { id: named(unknown) }, AGENT)).data) ?? null).toBeNull();
    const partner = [await svc.request(query, { id: named(theirs) }, PARTNER), await svc.request(query, { id: named(unknown) }, PARTNER)].map((r) => r.errors?.[0]?.extensions?.code);
    expect(partner).toEqual(['FORBIDDEN', 'FORBIDDEN']);
  });
});
