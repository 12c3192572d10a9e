import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { EVENTS, createCloudEvent } from '@ledgerline/contracts';
import { ManualClock, startPrivateNats, startServiceForTest, type TestService } from '@ledgerline/platform';
import { createWalletsService } from '../src/service';
import { depsOf } from '../src/deps';
import { checkLedgerInvariants } from '../src/persistence/invariants';
import { runWalletJobs } from '../src/jobs/jobs';
import type { AutoTopupRequestedData } from '../src/application/auto-topup-recharge';

export const T0 = new Date('2026-11-25T10:00:00Z');
export const HOUR = 3600_000;
/** The closed-account tests' instants: the account closes an hour after T0 ... */
export const CLOSED_AT = new Date(T0.getTime() + HOUR);
/** ... and its balance is final at closedAt + the default grace (72 h). */
export const FINAL_AT = new Date(CLOSED_AT.getTime() + 72 * HOUR);

export async function startWallets(extraEnv: Record<string, string> = {}): Promise<{ svc: TestService; clock: ManualClock }> {
  const clock = new ManualClock(T0);
  const env = { WALLETS_TEMPORAL: 'off', WALLETS_CONSUMER_DELIVER: 'new', WALLETS_JOBS: 'off', ...extraEnv };
  const svc = await startServiceForTest(createWalletsService({ env: { ...process.env, ...env } }), { clock, env });
  return { svc, clock };
}

export const dbOf = (svc: TestService) => depsOf(svc.runtime).db;

/** Run after every test: the ledger invariants hold. */
export async function expectInvariants(svc: TestService): Promise<void> {
  expect(await checkLedgerInvariants(svc.runtime.orm.em.fork())).toEqual([]);
}

let n = 0;
/**
 * An id no other test process makes: test files run side by side on one NATS server, whose
 * duplicate window drops a second message with the same id (a charge id from another file).
 */
export const uniq = (p: string) => `${p}_${Date.now().toString(36)}_${(n++).toString(36)}_${randomBytes(4).toString('hex')}`;

export async function gql<T = any>(svc: TestService, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await svc.request<T>(query, variables);
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!;
}

export async function openPrepaid(svc: TestService, opts: { balance?: string; overdraftLimit?: string; lowBalanceThreshold?: string; paymentMode?: string; creditLimit?: string } = {}) {
  const billingAccountId = uniq('acc');
  const d = await gql(svc, `mutation($i: OpenWalletInput!) { openWallet(input: $i) { wallet { id } } }`, {
    i: { billingAccountId, currency: 'EUR', paymentMode: opts.paymentMode ?? 'PREPAID', overdraftLimit: opts.overdraftLimit, lowBalanceThreshold: opts.lowBalanceThreshold, creditLimit: opts.creditLimit },
  });
  const walletId = d.openWallet.wallet.id as string;
  if (opts.balance) await topup(svc, billingAccountId, opts.balance);
  return { billingAccountId, walletId };
}

export async function topup(svc: TestService, billingAccountId: string, amount: string, key = uniq('key')) {
  return gql(svc, `mutation($i: TopupBalanceInput!) { topupBalance(input: $i) { topupBalance { id amount { amount } } wallet { balance { amount } } } }`, {
    i: { billingAccountId, amount: { amount, currency: 'EUR' }, idempotencyKey: key, reference: 'test' },
  });
}

export async function balanceOf(svc: TestService, walletId: string): Promise<string> {
  const d = await gql(svc, `query($id: ID!) { wallet(id: $id) { balance { amount } } }`, { id: walletId });
  return d.wallet.balance.amount;
}

export function charge(billingAccountId: string, over: Record<string, unknown> = {}) {
  return {
    chargeId: uniq('chg'),
    billingAccountId,
    lineId: 'lin_1',
    paymentMode: 'PREPAID',
    currency: 'EUR',
    usageType: 'DATA',
    occurredAt: T0.toISOString(),
    units: '1',
    unit: 'MB',
    allowanceIds: [],
    pricePerUnit: '1.00',
    allowOverdraft: false,
    ...over,
  };
}

export const APPLY = `mutation($i: ApplyChargeInput!) { applyCharge(input: $i) { result { chargeId outcome units unitsFromAllowances amountCharged { amount } reason } } }`;

/** A GraphQL answer as `CODE:reason` of its first error, or `OK`. */
export const outcomeOf = (r: { errors?: readonly { extensions?: { code?: string; reason?: string } }[] }): string =>
  r.errors ? `${r.errors[0]?.extensions?.code}:${r.errors[0]?.extensions?.reason ?? ''}` : 'OK';

/** Runs `race` `rounds` times, one round after the other (a race is not lost every time): each round's result. */
export async function inRounds<T>(rounds: number, race: () => Promise<T>): Promise<T[]> {
  const seen: T[] = [];
  for (let round = 0; round < rounds; round++) seen.push(await race());
  return seen;
}

/** Polls `probe` every 200 ms until it answers something truthy (returned) or `timeoutMs` passes (null). */
export async function eventually<T>(probe: () => Promise<T | null | undefined>, timeoutMs = 10_000): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Publishes billingaccount.closed as subscribers does; each call is a new message (a redelivery is one too). */
export async function publishAccountClosed(svc: TestService, billingAccountId: string, closedAt: Date, over: Record<string, unknown> = {}): Promise<void> {
  const data = { billingAccountId, customerId: uniq('cus'), closedAt: closedAt.toISOString(), reason: 'customer left', ...over };
  const event = createCloudEvent({ source: 'ledgerline/subscribers', type: EVENTS.billingAccountClosed.type, subject: billingAccountId, time: closedAt, key: [billingAccountId, 'closed'], data });
  await svc.runtime.messaging.js.publish(EVENTS.billingAccountClosed.subject, JSON.stringify(event), { msgID: uniq('msg') });
}

/** Closes the wallet's billing account by the event and waits until wallets has closed the wallet. */
export async function closeAccountAndWait(svc: TestService, billingAccountId: string, walletId: string, closedAt: Date): Promise<void> {
  await publishAccountClosed(svc, billingAccountId, closedAt);
  const status = await eventually(async () => ((await gql(svc, `query($id: ID!) { wallet(id: $id) { status } }`, { id: walletId })).wallet.status === 'CLOSED' ? 'CLOSED' : null));
  expect(status, `wallet ${walletId} closed`).toBe('CLOSED');
}

/** The outbox events of `subject` that name the billing account, as CloudEvents (oldest first by insertion). */
export async function outboxEventsOf(svc: TestService, subject: string, billingAccountId: string): Promise<{ id: string; data: any }[]> {
  const rows = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2`, [subject, `%"${billingAccountId}"%`]);
  return rows.map((r) => JSON.parse(r.payload));
}

/** Wallets on a private nats-server of its own (its consumers see only this file's events); `stop` ends both. */
export async function startWalletsOnPrivateNats(extraEnv: Record<string, string> = {}): Promise<{ svc: TestService; clock: ManualClock; natsUrl: string; stop: () => Promise<void> }> {
  const nats = await startPrivateNats();
  try {
    const { svc, clock } = await startWallets({ NATS_URL: nats.url, LOG_LEVEL: 'fatal', ...extraEnv });
    return { svc, clock, natsUrl: nats.url, stop: async () => {
      try {
        await svc.close();
      } finally {
        await nats.stop();
      }
    } };
  } catch (error) {
    await nats.stop();
    throw error;
  }
}

/**
 * A prepaid wallet holding `balance`, opened at T0, its account closed at CLOSED_AT and, unless
 * `settle` is false, settled by the periodic jobs' first pass after FINAL_AT (the clock left there).
 */
export async function closedPrepaidWallet(svc: TestService, clock: ManualClock, balance: string, settle = true): Promise<{ billingAccountId: string; walletId: string }> {
  clock.set(T0);
  const w = await openPrepaid(svc, { balance });
  await closeAccountAndWait(svc, w.billingAccountId, w.walletId, CLOSED_AT);
  if (settle) {
    clock.set(new Date(FINAL_AT.getTime() + 60_000));
    expect((await runWalletJobs(dbOf(svc), clock.now())).walletsSettled).toBeGreaterThanOrEqual(1);
  }
  return w;
}

/** A wallet's auto top-up requests, in the order they were made. */
export async function topupRequestsOf(svc: TestService, walletId: string) {
  return dbOf(svc).query<{ id: string; status: string; amount: string; reason: string | null; recharge_id: string | null }>(
    `select id, status, amount::text, reason, recharge_id from topup_request where wallet_id = $1 order by requested_at, id`, [walletId]);
}

/** The data of the autoTopupRequested events a wallet's requests wrote to the outbox. */
export async function autoTopupRequestedEvents(svc: TestService, walletId: string): Promise<AutoTopupRequestedData[]> {
  const rows = await dbOf(svc).query<{ payload: string }>(`select payload from outbox where subject = $1 and payload like $2`, [EVENTS.autoTopupRequested.subject, `%${walletId}%`]);
  return rows.map((r) => JSON.parse(r.payload).data as AutoTopupRequestedData);
}
