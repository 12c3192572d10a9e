// A top-up and the renewal of a bundle waiting for its fee, at the same moment (found in review,
// eleventh session). The renewal locks the subscription's term, then the account's wallets
// (renewSubscription); a top-up locks the wallet, then moves the account's fee-due subscriptions'
// retry to now so they renew at the next pass (feeDueCanRetry), which waited for the term row the
// renewal held: each waited for the other and PostgreSQL aborted one (40P01, deadlock detected),
// the customer's top-up refused or the renewal put off. The top-up now leaves a term another
// transaction holds (that one is renewing it at this moment) and the renewal then takes the
// wallet after the top-up's commit, paying the fee out of the new balance.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SubscriptionData } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, balanceOf, dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';
import { grantFromSubscription } from '../src/application/grant-from-subscription';
import { renewSubscription } from '../src/application/renew-allowances';
import { topupBalance } from '../src/application/topup-balance';
import type { PlanTerms } from '../src/adapters/catalog-client';
import type { Sql } from '../src/persistence/sql';

let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets());
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** 10 GB for 15.00 every 30 days. */
const BUNDLE: PlanTerms = { recurringFee: { amount: '15.00', period: 'DAYS30' }, allowances: [{ id: 'data', unit: 'MB', quantity: '10240', validity: 'PERIOD' }] };
/** Half a minute after the fee was refused: before its retry (a minute after), so a top-up moves the retry. */
const NOW = new Date(T0.getTime() + 30_000);

describe('a top-up while the bundle waiting for it renews', () => {
  it('neither deadlocks: the top-up commits, then the renewal takes the fee from the topped-up balance', async () => {
    const { billingAccountId: acc, walletId } = await openPrepaid(svc, { balance: '5.00' });
    const sub: SubscriptionData = {
      subscriptionId: uniq('sub'), lineId: uniq('lin'), msisdn: '4915100000000', billingAccountId: acc, paymentMode: 'PREPAID', currency: 'EUR', planCode: 'BUNDLE', planVersionId: 'pv_bundle',
      status: 'ACTIVE', startsAt: T0.toISOString(), endsAt: null, addOns: [],
    };
    // 5.00 does not cover the 15.00 fee: the bundle waits (fee DUE, tried again a minute later).
    await dbOf(svc).tx((sql) => grantFromSubscription(sql, sub, BUNDLE, T0));
    expect((await dbOf(svc).query(`select fee_state from subscription_term where subscription_id = $1`, [sub.subscriptionId]))[0]).toEqual({ fee_state: 'DUE' });

    // The renewal, held right after it locked the term (before it locks the wallets).
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    let told!: () => void;
    const termLocked = new Promise<void>((r) => (told = r));
    const renewal = dbOf(svc).tx((sql) => {
      const paused: Sql = {
        async query(text, params) {
          const rows = await sql.query(text, params);
          if (/from subscription_term where subscription_id = \$1 for update/.test(text)) {
            told();
            await resumed;
          }
          return rows as never[];
        },
        queries: (statements) => sql.queries(statements),
        write: (text, params) => sql.write(text, params),
      };
      return renewSubscription(paused, sub.subscriptionId, BUNDLE, NOW);
    });
    await termLocked;
    const topup = dbOf(svc).tx((sql) => topupBalance(sql, { billingAccountId: acc, amount: { amount: '20.00', currency: 'EUR' }, idempotencyKey: uniq('key'), now: NOW }));
    // Let the top-up get as far as it can (before: to the term row the renewal holds), then let the renewal go on.
    await sleep(500);
    resume();
    const outcomes = (await Promise.allSettled([topup, renewal])).map((s) => (s.status === 'fulfilled' ? 'ok' : `${(s.reason as { code?: string }).code ?? ''} ${(s.reason as Error).message}`.trim()));
    // Before: one of them '40P01 deadlock detected'.
    expect(outcomes).toEqual(['ok', 'ok']);
    expect(await renewal).toBe('RENEWED');
    // 5.00 + 20.00 topped up − 15.00 fee.
    expect(await balanceOf(svc, walletId)).toBe('10');
  });
});
