// Review 9: the jobs pass's auto top-up retry (retryAutoTopups, balance-events.ts) reads at most
// 500 candidates, `order by r.wallet_id limit 500`, and a candidate is any wallet below its
// threshold whose latest request ended LIMIT_REACHED / DECLINED / FAILED with none pending. Most of
// them are not due (a limit still reached, for the rest of the day or month; a card within its
// backoff or at the day's cap of declines): retryDecision writes nothing for them, so they are the
// same first 500 wallets at every pass. A wallet whose id sorts after them is never asked for again
// by the jobs pass, although its turn has come: a used-up prepaid wallet (no debit asks for it) is
// left dry for good.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { dbOf, expectInvariants, openPrepaid, startWallets } from './support';
import { runWalletJobs } from '../src/jobs/jobs';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets());
}, 60_000);
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

/**
 * The rule as stored before the wallet's requests were made (set now through setAutoTopup, on a
 * used-up wallet with no request yet, it would ask at once: auto-topup-rule-set-below-threshold.test.ts).
 */
async function storedRule(walletId: string, dailyLimit: string | null, at: Date) {
  await dbOf(svc).query(
    `insert into auto_topup_rule (wallet_id, enabled, threshold, topup_amount, payment_method_token, daily_limit, updated_at) values ($1, true, 10, 20, 'tok_visa', $2, $3)`,
    [walletId, dailyLimit, at],
  );
}

async function request(walletId: string, billingAccountId: string, id: string, status: string, at: Date) {
  await dbOf(svc).query(
    `insert into topup_request (id, wallet_id, billing_account_id, amount, currency, payment_method_token, status, reason, requested_at) values ($1, $2, $3, 20, 'EUR', 'tok_visa', $4, $5, $6)`,
    [id, walletId, billingAccountId, status, status === 'LIMIT_REACHED' ? 'DAILY_LIMIT_REACHED' : null, at],
  );
}

describe('the jobs pass asks again for every wallet whose turn has come', () => {
  it('a wallet past its decline backoff is asked for even when 500 wallets with a limit still reached sort before it', async () => {
    clock.set('2026-12-10T12:00:00Z');
    const now = clock.now();
    const hour = 3_600_000;

    // A wallet at 0 whose daily limit (20) is used up today: a candidate, not due until tomorrow.
    const full = await openPrepaid(svc);
    await storedRule(full.walletId, '20.00', new Date(now.getTime() - 5 * hour));
    await request(full.walletId, full.billingAccountId, `atu_r9full_a`, 'COMPLETED', new Date(now.getTime() - 4 * hour));
    await request(full.walletId, full.billingAccountId, `atu_r9full_b`, 'LIMIT_REACHED', new Date(now.getTime() - 2 * hour));
    // 500 more like it (their ids sort first, as any 500 wallets of a large base may).
    const db = dbOf(svc);
    await db.query(
      `insert into wallet select (jsonb_populate_record(null::wallet, to_jsonb(w) || jsonb_build_object('id', 'wal_0000000' || lpad(g::text, 5, '0'), 'billing_account_id', 'acc_r9full_' || g))).*
         from wallet w, generate_series(1, 500) g where w.id = $1`,
      [full.walletId],
    );
    await db.query(
      `insert into auto_topup_rule select (jsonb_populate_record(null::auto_topup_rule, to_jsonb(r) || jsonb_build_object('wallet_id', 'wal_0000000' || lpad(g::text, 5, '0')))).*
         from auto_topup_rule r, generate_series(1, 500) g where r.wallet_id = $1`,
      [full.walletId],
    );
    await db.query(
      `insert into topup_request select (jsonb_populate_record(null::topup_request, to_jsonb(t) || jsonb_build_object('id', t.id || '_' || g, 'wallet_id', 'wal_0000000' || lpad(g::text, 5, '0'), 'billing_account_id', 'acc_r9full_' || g))).*
         from topup_request t, generate_series(1, 500) g where t.wallet_id = $1`,
      [full.walletId],
    );
    await runWalletJobs(db, now); // none of them is due: nothing is written
    expect((await db.query<{ n: string }>(`select count(*)::text as n from topup_request where status = 'REQUESTED'`))[0]!.n).toBe('0');

    // A used-up wallet whose card was declined 3 hours ago (backoff 1 h, 1 decline today < 3): due now.
    const dry = await openPrepaid(svc);
    await storedRule(dry.walletId, null, new Date(now.getTime() - 4 * hour));
    await request(dry.walletId, dry.billingAccountId, `atu_r9dry`, 'RECHARGE_DECLINED', new Date(now.getTime() - 3 * hour));

    await runWalletJobs(db, now);
    await runWalletJobs(db, new Date(now.getTime() + 60_000)); // and the next pass
    const asked = await db.query<{ status: string }>(`select status from topup_request where wallet_id = $1 order by requested_at`, [dry.walletId]);
    expect(asked.map((r) => r.status)).toEqual(['RECHARGE_DECLINED', 'REQUESTED']);
  });
});
