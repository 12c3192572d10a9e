// Four eyes on goodwill (contracts' approval-policy.ts): an AGENT's adjustBalance up to the approval
// limit of the wallet's currency moves the balance at once; above it (a credit or a debit, by its
// size) nothing moves and a PENDING BalanceAdjustmentRequest answers, until a supervisor (ADMIN, or
// an AGENT with scope billing:approve) who is not the requester approves it (the adjustment is made
// once, with the input as asked) or rejects it. Until now any agent adjusted any amount alone.
// The limit here is LEDGERLINE_APPROVAL_LIMITS={"EUR":"20.00"}, the TTL LEDGERLINE_APPROVAL_TTL_HOURS=24.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@ledgerline/contracts';
import type { ManualClock, TestService } from '@ledgerline/platform';
import { createWalletsService } from '../src/service';
import { runWalletJobs } from '../src/jobs/jobs';
import { expireAdjustmentRequests } from '../src/application/balance-adjustment-approvals';
import { balanceOf, dbOf, expectInvariants, openPrepaid, startWallets, uniq } from './support';

let svc: TestService;
let clock: ManualClock;
beforeAll(async () => {
  ({ svc, clock } = await startWallets({ LOG_LEVEL: 'fatal', LEDGERLINE_APPROVAL_LIMITS: '{"EUR":"20.00"}', LEDGERLINE_APPROVAL_TTL_HOURS: '24' }));
});
afterAll(async () => svc?.close());
afterEach(async () => expectInvariants(svc));

const ANN: Caller = { role: 'AGENT', subject: 'agent-ann', scopes: [] };
const BOB: Caller = { role: 'AGENT', subject: 'agent-bob', scopes: [] };
const SUE: Caller = { role: 'AGENT', subject: 'super-sue', scopes: ['billing:approve'] };
const ADMIN: Caller = { role: 'ADMIN', subject: 'ops-adam', scopes: [] };
const ANN_AS_SUPERVISOR: Caller = { role: 'AGENT', subject: 'agent-ann', scopes: ['billing:approve'] };

const REQ = 'id walletId billingAccountId amount { amount currency } requestedBy reason input { walletId amount { amount currency } reason idempotencyKey } status decidedBy decisionNote adjustmentId failureCode failureReason createdAt expiresAt decidedAt';
const ADJUST = `mutation($i: AdjustBalanceInput!) { adjustBalance(input: $i) { adjustment { id amount { amount } agent } wallet { balance { amount } } approvalRequest { ${REQ} } } }`;
const DECIDED = `{ request { ${REQ} } adjustment { id amount { amount } agent } wallet { balance { amount } } }`;
const APPROVE = `mutation($i: ApproveBalanceAdjustmentInput!) { approveBalanceAdjustment(input: $i) ${DECIDED} }`;
const REJECT = `mutation($i: RejectBalanceAdjustmentInput!) { rejectBalanceAdjustment(input: $i) ${DECIDED} }`;
const LIST = `query($s: BalanceAdjustmentRequestStatus, $f: Int, $a: String) { balanceAdjustmentRequests(status: $s, first: $f, after: $a) { edges { node { id status } } pageInfo { hasNextPage endCursor } } }`;

async function as<T = any>(caller: Caller, query: string, variables: Record<string, unknown>): Promise<T> {
  const r = await svc.request<T>(query, variables, caller);
  if (r.errors?.length) throw new Error(`${r.errors[0]!.message} ${JSON.stringify(r.errors[0]!.extensions)}`);
  return r.data!;
}
async function refusal(caller: Caller, query: string, variables: Record<string, unknown>) {
  const r = await svc.request(query, variables, caller);
  if (!r.errors?.length) throw new Error(`expected an error, got ${JSON.stringify(r.data)}`);
  const ext = r.errors[0]!.extensions ?? {};
  return { code: ext.code, reason: ext.reason, field: ext.field };
}
const adjust = (walletId: string, amount: string, key = uniq('key')) => ({ i: { walletId, amount: { amount, currency: 'EUR' }, reason: 'goodwill: outage on 3 Nov', idempotencyKey: key } });
const adjustments = async (walletId: string) => Number((await dbOf(svc).query<{ n: string }>(`select count(*) as n from balance_adjustment where wallet_id = $1`, [walletId]))[0]!.n);

describe("an agent's adjustBalance and the approval limit", () => {
  it('up to the limit: at once; above it (credit or debit): pending, nothing moves; a retry answers the same request', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '100.00' });
    expect((await as(ANN, ADJUST, adjust(walletId, '20.00'))).adjustBalance).toMatchObject({ adjustment: { amount: { amount: '20' }, agent: 'agent-ann' }, approvalRequest: null });
    expect(await balanceOf(svc, walletId)).toBe('120');

    const key = uniq('key');
    const big = (await as(ANN, ADJUST, adjust(walletId, '20.01', key))).adjustBalance;
    expect(big.adjustment).toBeNull();
    expect(big.wallet.balance.amount).toBe('120');
    expect(big.approvalRequest).toMatchObject({ walletId, amount: { amount: '20.01', currency: 'EUR' }, requestedBy: 'agent-ann', reason: 'goodwill: outage on 3 Nov', status: 'PENDING', decidedBy: null, adjustmentId: null });
    expect(big.approvalRequest.input).toMatchObject({ walletId, amount: { amount: '20.01', currency: 'EUR' }, idempotencyKey: key });
    expect((await as(ANN, ADJUST, adjust(walletId, '20.01', key))).adjustBalance.approvalRequest.id).toBe(big.approvalRequest.id);
    expect(await refusal(ANN, ADJUST, adjust(walletId, '20.02', key))).toMatchObject({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });

    const debit = (await as(ANN, ADJUST, adjust(walletId, '-30.00'))).adjustBalance;
    expect(debit.approvalRequest).toMatchObject({ amount: { amount: '-30.00' }, status: 'PENDING' });
    expect(await balanceOf(svc, walletId)).toBe('120');
    expect(await adjustments(walletId)).toBe(1);
  });

  it('self-approval is refused (SELF_APPROVAL), a plain agent cannot approve; a supervisor approves: moved once, also when approved twice at the same moment', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '10.00' });
    const key = uniq('key');
    const req = (await as(ANN, ADJUST, adjust(walletId, '25.00', key))).adjustBalance.approvalRequest;
    expect(await refusal(ANN_AS_SUPERVISOR, APPROVE, { i: { id: req.id } })).toMatchObject({ code: 'FORBIDDEN', reason: 'SELF_APPROVAL' });
    expect(await refusal(BOB, APPROVE, { i: { id: req.id } })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await refusal({ role: 'SYSTEM', subject: 'worker', scopes: ['*'] }, APPROVE, { i: { id: req.id } })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await balanceOf(svc, walletId)).toBe('10');

    const both = await Promise.all([as(SUE, APPROVE, { i: { id: req.id } }), as(ADMIN, APPROVE, { i: { id: req.id } })]);
    const ids = new Set(both.map((b) => b.approveBalanceAdjustment.adjustment.id));
    expect(ids.size).toBe(1);
    expect(both[0].approveBalanceAdjustment).toMatchObject({ request: { status: 'APPROVED', adjustmentId: [...ids][0] }, adjustment: { amount: { amount: '25' }, agent: 'agent-ann' }, wallet: { balance: { amount: '35' } } });
    expect(['super-sue', 'ops-adam']).toContain(both[0].approveBalanceAdjustment.request.decidedBy);
    expect(await balanceOf(svc, walletId)).toBe('35');
    // Again, and the agent's own retry: the same adjustment.
    expect((await as(SUE, APPROVE, { i: { id: req.id } })).approveBalanceAdjustment.adjustment.id).toBe([...ids][0]);
    expect((await as(ANN, ADJUST, adjust(walletId, '25.00', key))).adjustBalance.adjustment.id).toBe([...ids][0]);
    expect(await adjustments(walletId)).toBe(1);
    expect(await balanceOf(svc, walletId)).toBe('35');
    expect(await refusal(SUE, REJECT, { i: { id: req.id, reason: 'too late' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
  });

  it('rejected: nothing moves, the reason is kept; it cannot be approved afterwards', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '10.00' });
    const req = (await as(ANN, ADJUST, adjust(walletId, '50.00'))).adjustBalance.approvalRequest;
    const rejected = (await as(SUE, REJECT, { i: { id: req.id, reason: 'Outage was 1 hour: 5.00 at most' } })).rejectBalanceAdjustment;
    expect(rejected).toMatchObject({ request: { status: 'REJECTED', decidedBy: 'super-sue', decisionNote: 'Outage was 1 hour: 5.00 at most', adjustmentId: null }, adjustment: null });
    expect(await refusal(ADMIN, APPROVE, { i: { id: req.id } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
    expect(await balanceOf(svc, walletId)).toBe('10');
    expect(await adjustments(walletId)).toBe(0);
    // Audit: the request and the decision, each once, on the outbox.
    const events = await dbOf(svc).query<{ subject: string; payload: string }>(`select subject, payload from outbox where payload like $1 order by created_at, subject`, [`%${req.id}%`]);
    expect(events.map((e) => [e.subject, JSON.parse(e.payload).data.status])).toEqual([
      ['billing.wallets.adjustmentrequest.created', 'PENDING'],
      ['billing.wallets.adjustmentrequest.decided', 'REJECTED'],
    ]);
  });

  it('a debit approved after the balance fell ends FAILED with the adjustment error (no longer PENDING, nothing moved); approving again answers the same, rejecting is APPROVAL_REQUEST_DECIDED', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '40.00' });
    const req = (await as(ANN, ADJUST, adjust(walletId, '-35.00'))).adjustBalance.approvalRequest;
    await as(ADMIN, ADJUST, adjust(walletId, '-10.00'));
    const failed = (await as(SUE, APPROVE, { i: { id: req.id } })).approveBalanceAdjustment;
    expect(failed).toMatchObject({ request: { status: 'FAILED', failureCode: 'WALLET_INSUFFICIENT_BALANCE', failureReason: expect.stringContaining('overdraft'), decidedBy: 'super-sue', decidedAt: expect.any(String), adjustmentId: null }, adjustment: null, wallet: { balance: { amount: '30' } } });
    expect((await as(SUE, LIST, { s: 'PENDING' })).balanceAdjustmentRequests.edges.map((e: any) => e.node.id)).not.toContain(req.id);
    expect((await as(SUE, LIST, { s: 'FAILED' })).balanceAdjustmentRequests.edges.map((e: any) => e.node.id)).toContain(req.id);
    expect((await as(ADMIN, APPROVE, { i: { id: req.id } })).approveBalanceAdjustment.request).toMatchObject({ status: 'FAILED', decidedBy: 'super-sue' });
    expect(await refusal(ADMIN, REJECT, { i: { id: req.id, reason: 'too late' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_REQUEST_DECIDED' });
    expect(await balanceOf(svc, walletId)).toBe('30');
    expect(await adjustments(walletId)).toBe(1);
    const events = await dbOf(svc).query<{ subject: string; payload: string }>(`select subject, payload from outbox where payload like $1 order by created_at, subject`, [`%${req.id}%`]);
    expect(events.map((e) => [e.subject, JSON.parse(e.payload).data.status, JSON.parse(e.payload).data.failureCode])).toEqual([
      ['billing.wallets.adjustmentrequest.created', 'PENDING', undefined],
      ['billing.wallets.adjustmentrequest.decided', 'FAILED', 'WALLET_INSUFFICIENT_BALANCE'],
    ]);
  });

  it('a transient error while approving (the database connection lost) is returned and the request stays PENDING; approved later, moved once', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '40.00' });
    const req = (await as(ANN, ADJUST, adjust(walletId, '-25.00'))).adjustBalance.approvalRequest;
    // The adjustment's insert meets a lost connection (SQLSTATE 08006), as a database going away would.
    await dbOf(svc).query(`create or replace function pg_temp_fail_adjustment() returns trigger language plpgsql as $$ begin raise exception 'connection lost' using errcode = '08006'; end $$`);
    await dbOf(svc).query(`create trigger fail_adjustment before insert on balance_adjustment for each row execute function pg_temp_fail_adjustment()`);
    try {
      expect((await refusal(SUE, APPROVE, { i: { id: req.id } })).code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await dbOf(svc).query(`drop trigger fail_adjustment on balance_adjustment`);
      await dbOf(svc).query(`drop function pg_temp_fail_adjustment()`);
    }
    expect((await dbOf(svc).query(`select status, failure_code, decided_by from balance_adjustment_request where id = $1`, [req.id]))[0]).toMatchObject({ status: 'PENDING', failure_code: null, decided_by: null });
    expect(await balanceOf(svc, walletId)).toBe('40');
    expect((await as(SUE, APPROVE, { i: { id: req.id } })).approveBalanceAdjustment).toMatchObject({ request: { status: 'APPROVED' }, wallet: { balance: { amount: '15' } } });
    expect(await adjustments(walletId)).toBe(1);
  });

  it('ADMIN and a supervisor adjust at once at any amount; the list is staff only and pages', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '10.00' });
    expect((await as(ADMIN, ADJUST, adjust(walletId, '500.00'))).adjustBalance).toMatchObject({ adjustment: { amount: { amount: '500' } }, approvalRequest: null });
    expect((await as(SUE, ADJUST, adjust(walletId, '100.00'))).adjustBalance.approvalRequest).toBeNull();
    expect(await balanceOf(svc, walletId)).toBe('610');
    expect(await refusal({ role: 'CUSTOMER', subject: 'c', customerId: 'cus_x', scopes: [] }, LIST, {})).toMatchObject({ code: 'FORBIDDEN' });
    const all = (await as(ANN, LIST, {})).balanceAdjustmentRequests.edges.map((e: any) => e.node.id);
    const paged: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = (await as(SUE, LIST, { f: 2, a: after })).balanceAdjustmentRequests;
      paged.push(...page.edges.map((e: any) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(paged).toEqual(all);
    expect(all.length).toBeGreaterThan(3);
  });

  it('a bad LEDGERLINE_APPROVAL_LIMITS or LEDGERLINE_APPROVAL_TTL_HOURS stops start-up, naming the setting', async () => {
    for (const bad of ['{"EUR":20}', '{"EURO":"20.00"}']) {
      const def = createWalletsService({ env: { ...process.env, LEDGERLINE_APPROVAL_LIMITS: bad } });
      await expect(def.background!(svc.runtime), bad).rejects.toThrow(/LEDGERLINE_APPROVAL_LIMITS/);
    }
    for (const bad of ['0', 'a week']) {
      const def = createWalletsService({ env: { ...process.env, LEDGERLINE_APPROVAL_TTL_HOURS: bad } });
      await expect(def.background!(svc.runtime), bad).rejects.toThrow(/LEDGERLINE_APPROVAL_TTL_HOURS/);
    }
  });
});

// Last in the file: it moves the clock past the TTL (LEDGERLINE_APPROVAL_TTL_HOURS, here 24 h).
describe('expiry', () => {
  const HOUR = 3_600_000;
  it('a request older than the TTL cannot be approved or rejected (APPROVAL_EXPIRED); the wallet jobs mark it EXPIRED once, with an event; a younger one waits on', async () => {
    const { walletId } = await openPrepaid(svc, { balance: '10.00' });
    const old = (await as(ANN, ADJUST, adjust(walletId, '30.00'))).adjustBalance.approvalRequest;
    expect(Date.parse(old.expiresAt) - Date.parse(old.createdAt)).toBe(24 * HOUR);
    clock.advance(23 * HOUR);
    const young = (await as(ANN, ADJUST, adjust(walletId, '40.00'))).adjustBalance.approvalRequest;
    clock.advance(HOUR); // old: exactly 24 h
    expect(await refusal(SUE, APPROVE, { i: { id: old.id } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_EXPIRED', field: 'input.id' });
    expect(await refusal(SUE, REJECT, { i: { id: old.id, reason: 'stale' } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_EXPIRED' });
    expect(await balanceOf(svc, walletId)).toBe('10');

    const pass = await runWalletJobs(dbOf(svc), clock.now(), null, null, undefined, { approvalTtlHours: 24 });
    expect(pass.approvalRequestsExpired).toBeGreaterThanOrEqual(1);
    expect(await expireAdjustmentRequests(dbOf(svc), clock.now(), 24), 'a second pass finds nothing more').toEqual([]);
    const expired = (await as(SUE, LIST, { s: 'EXPIRED', f: 100 })).balanceAdjustmentRequests.edges.map((e: any) => e.node.id);
    expect(expired).toContain(old.id);
    expect(expired).not.toContain(young.id);
    const events = await dbOf(svc).query<{ subject: string; payload: string }>(`select subject, payload from outbox where payload like $1 order by created_at, subject`, [`%${old.id}%`]);
    expect(events.map((e) => [e.subject, JSON.parse(e.payload).data.status])).toEqual([
      ['billing.wallets.adjustmentrequest.created', 'PENDING'],
      ['billing.wallets.adjustmentrequest.expired', 'EXPIRED'],
    ]);
    expect(await refusal(SUE, APPROVE, { i: { id: old.id } })).toMatchObject({ code: 'CONFLICT', reason: 'APPROVAL_EXPIRED' });
    expect((await as(SUE, APPROVE, { i: { id: young.id } })).approveBalanceAdjustment.request.status).toBe('APPROVED');
    expect(await balanceOf(svc, walletId)).toBe('50');
  });

  it('the running service expires them: its jobs (WALLETS_JOBS) mark a stale request EXPIRED with the TTL it was started with', async () => {
    const other = await startWallets({ LOG_LEVEL: 'fatal', WALLETS_JOBS: 'on', WALLETS_JOB_INTERVAL_MS: '50', WALLETS_CONSUMERS: 'off', LEDGERLINE_APPROVAL_TTL_HOURS: '2' });
    try {
      const insert = (id: string, at: Date) => dbOf(other.svc).query(
        `insert into balance_adjustment_request (id, wallet_id, billing_account_id, amount, currency, requested_by, requested_role, reason, input, idempotency_key, request_hash, status, created_at)
         values ($1, 'wal_x', 'acc_x', 30, 'EUR', 'agent-ann', 'AGENT', 'goodwill', '{}', $1, 'h', 'PENDING', $2)`,
        [id, at],
      );
      await insert('adr_stale', new Date(other.clock.now().getTime() - 2 * HOUR));
      await insert('adr_fresh', new Date(other.clock.now().getTime() - HOUR));
      const status = async (id: string) => (await dbOf(other.svc).query<{ status: string }>(`select status from balance_adjustment_request where id = $1`, [id]))[0]!.status;
      for (let i = 0; i < 100 && (await status('adr_stale')) !== 'EXPIRED'; i++) await new Promise((r) => setTimeout(r, 50));
      expect(await status('adr_stale')).toBe('EXPIRED');
      expect(await status('adr_fresh')).toBe('PENDING');
    } finally {
      await other.svc.close();
    }
  });
});
