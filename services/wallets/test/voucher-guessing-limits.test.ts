// Voucher guessing was limited per account only (5 wrong codes / 15 min): one caller with many accounts, or
// cycling accounts, tried 5 codes on each, without end. Now failures are also limited per caller (the signed
// caller's role:subject; a subgraph does not see the client's IP), per code prefix (the first 16 characters:
// one guessing the last group of a partly known code, from any account or caller) and in all; each refusal is
// VOUCHER_ATTEMPTS_EXCEEDED naming the limit (extensions.limit) and counted by limit in
// ledgerline_wallets_voucher_attempts_refused_total. Real PostgreSQL; time from the service's clock.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type ManualClock, type TestService } from '@ledgerline/platform';
import type { Caller } from '@ledgerline/contracts';
import { dbOf, expectInvariants, gql, openPrepaid, startWallets, uniq } from './support';
import { DEFAULT_VOUCHER_LIMITS, generateCode, voucherLimitsFromEnv } from '../src/application/vouchers';

const PER_CALLER = 8;
const GLOBAL = 40;
let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets({ WALLETS_VOUCHER_MAX_FAILED_PER_CALLER: String(PER_CALLER), WALLETS_VOUCHER_MAX_FAILED_GLOBAL: String(GLOBAL) }));
});
afterAll(async () => svc?.close());
afterEach(async () => {
  await expectInvariants(svc);
  clock.advance(DEFAULT_VOUCHER_LIMITS.windowMs + 1000); // every test starts with no failure in the window
});

const REDEEM = `mutation($i: RedeemVoucherInput!) { redeemVoucher(input: $i) { topupBalance { id amount { amount } } } }`;
const ISSUE = `mutation($i: IssueVoucherInput!) { issueVoucher(input: $i) { code voucher { id } } }`;
const agent = (subject: string): Caller => ({ role: 'AGENT', subject, scopes: [] });
const redeem = (billingAccountId: string, code: string, caller: Caller) => svc.request(REDEEM, { i: { billingAccountId, code, idempotencyKey: uniq('key') } }, caller);
const refusal = (r: Awaited<ReturnType<typeof redeem>>) => (r.errors ? `${r.errors[0]!.extensions?.reason}${r.errors[0]!.extensions?.limit ? `/${r.errors[0]!.extensions.limit}` : ''}` : 'REDEEMED');
const accounts = async (n: number) => Promise.all(Array.from({ length: n }, async () => (await openPrepaid(svc)).billingAccountId));
const issue = async (amount = '10.00') =>
  (await gql(svc, ISSUE, { i: { idempotencyKey: uniq('vkey'), amount: { amount, currency: 'EUR' }, expiresAt: new Date(clock.now().getTime() + 86_400_000).toISOString() } })).issueVoucher.code as string;
const refusedCount = async (limit: string) => {
  const metric = await svc.runtime.metrics.getSingleMetric('ledgerline_wallets_voucher_attempts_refused_total')!.get();
  return metric.values.find((v) => v.labels.limit === limit)?.value ?? 0;
};

describe('voucher guessing limits that do not depend on the account', () => {
  it(`one caller cycling accounts: ${PER_CALLER} wrong codes in the window, then VOUCHER_ATTEMPTS_EXCEEDED (caller) on any account; others unaffected; the window passes`, async () => {
    const mine = await accounts(PER_CALLER / 2 + 1);
    const before = await refusedCount('caller');
    const tried: string[] = [];
    for (const account of mine.slice(0, PER_CALLER / 2)) for (let i = 0; i < 2; i++) tried.push(refusal(await redeem(account, generateCode(), agent('cycler'))));
    expect(tried).toEqual(Array(PER_CALLER).fill('VOUCHER_NOT_FOUND')); // 2 per account: no account limit reached
    const fresh = mine[PER_CALLER / 2]!;
    const blocked = await redeem(fresh, await issue(), agent('cycler')); // even a real code: not tried
    expect(refusal(blocked)).toBe('VOUCHER_ATTEMPTS_EXCEEDED/caller');
    expect(blocked.errors![0]!.message).toMatch(/from this caller; try again after 15 minutes/);
    expect(blocked.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.code' });
    expect(await refusedCount('caller')).toBe(before + 1);
    // Another caller on the same account is not held back by the first one's guesses.
    expect(refusal(await redeem(fresh, await issue(), agent('honest')))).toBe('REDEEMED');
    clock.advance(DEFAULT_VOUCHER_LIMITS.windowMs + 1000);
    expect(refusal(await redeem(fresh, await issue(), agent('cycler')))).toBe('REDEEMED');
  });

  it('guesses of one caller on many accounts sent together: exactly the caller limit is tried', async () => {
    const many = await accounts(PER_CALLER * 2);
    const results = await Promise.all(many.map((account) => redeem(account, generateCode(), agent('burst'))));
    const reasons = results.map(refusal);
    expect(reasons.filter((r) => r === 'VOUCHER_NOT_FOUND')).toHaveLength(PER_CALLER);
    expect(reasons.filter((r) => r === 'VOUCHER_ATTEMPTS_EXCEEDED/caller')).toHaveLength(PER_CALLER);
    const attempts = await dbOf(svc).query<{ n: string }>(`select count(*) as n from voucher_attempt where caller = 'AGENT:burst' and not succeeded`);
    expect(Number(attempts[0]!.n)).toBe(PER_CALLER);
  });

  it('a partly known code guessed on its last group from many callers and accounts: 5 tries of that prefix, then refused (prefix); other codes still tried', async () => {
    const real = await issue('50.00');
    const known = real.slice(0, 19); // four of its five groups
    const guessers = await accounts(7);
    const before = await refusedCount('prefix');
    const reasons: string[] = [];
    for (const [i, account] of guessers.entries()) reasons.push(refusal(await redeem(account, `${known}-${i === 6 ? real.slice(20) : `ZZZ${i + 2}`}`, agent(`guesser-${i}`))));
    // The 7th guess is the right code, but the prefix is locked by then.
    expect(reasons).toEqual([...Array(5).fill('VOUCHER_NOT_FOUND'), 'VOUCHER_ATTEMPTS_EXCEEDED/prefix', 'VOUCHER_ATTEMPTS_EXCEEDED/prefix']);
    expect(await refusedCount('prefix')).toBe(before + 2);
    expect(refusal(await redeem(guessers[5]!, generateCode(), agent('guesser-5')))).toBe('VOUCHER_NOT_FOUND');
    // The voucher itself is not spent; once the window passes its holder redeems it.
    clock.advance(DEFAULT_VOUCHER_LIMITS.windowMs + 1000);
    expect(refusal(await redeem(guessers[0]!, real, agent('holder')))).toBe('REDEEMED');
  });

  it(`failures spread over many callers and accounts: after ${GLOBAL} in the window every redemption is refused (global), until the window passes`, async () => {
    const spread = await accounts(GLOBAL / 4);
    const before = await refusedCount('global');
    for (let i = 0; i < GLOBAL; i++) expect(refusal(await redeem(spread[i % spread.length]!, generateCode(), agent(`bot-${i}`)))).toBe('VOUCHER_NOT_FOUND');
    const [newcomer] = await accounts(1);
    const code = await issue();
    const paused = await redeem(newcomer!, code, agent('someone-else'));
    expect(refusal(paused)).toBe('VOUCHER_ATTEMPTS_EXCEEDED/global');
    expect(paused.errors![0]!.message).toMatch(/voucher redemption is paused/);
    expect(await refusedCount('global')).toBe(before + 1);
    clock.advance(DEFAULT_VOUCHER_LIMITS.windowMs + 1000);
    expect(refusal(await redeem(newcomer!, code, agent('someone-else')))).toBe('REDEEMED');
  });

  it('the account limit still holds for one caller (5 per account)', async () => {
    const [account] = await accounts(1);
    const reasons: string[] = [];
    for (let i = 0; i < 6; i++) reasons.push(refusal(await redeem(account!, generateCode(), agent('one'))));
    expect(reasons).toEqual([...Array(5).fill('VOUCHER_NOT_FOUND'), 'VOUCHER_ATTEMPTS_EXCEEDED/account']);
  });
});

describe('voucher limits from the environment', () => {
  it('defaults, overrides, and a bad value stops start-up naming the variable', () => {
    expect(voucherLimitsFromEnv({})).toEqual({ perAccount: 5, perCaller: 20, perPrefix: 5, global: 0, windowMs: 15 * 60_000 });
    expect(voucherLimitsFromEnv({ WALLETS_VOUCHER_MAX_FAILED_PER_CALLER: '50', WALLETS_VOUCHER_ATTEMPT_WINDOW_MINUTES: '60' })).toMatchObject({ perCaller: 50, windowMs: 3_600_000 });
    for (const bad of ['-1', '2.5', 'ten']) {
      expect(() => voucherLimitsFromEnv({ WALLETS_VOUCHER_MAX_FAILED_GLOBAL: bad })).toThrow(ConfigError);
      expect(() => voucherLimitsFromEnv({ WALLETS_VOUCHER_MAX_FAILED_GLOBAL: bad })).toThrow(/WALLETS_VOUCHER_MAX_FAILED_GLOBAL/);
    }
    // The global limit is opt-in (0: off); the others must be positive.
    expect(voucherLimitsFromEnv({ WALLETS_VOUCHER_MAX_FAILED_GLOBAL: '0' })).toMatchObject({ global: 0 });
    expect(() => voucherLimitsFromEnv({ WALLETS_VOUCHER_MAX_FAILED_PER_CALLER: '0' })).toThrow(/WALLETS_VOUCHER_MAX_FAILED_PER_CALLER/);
  });
});
