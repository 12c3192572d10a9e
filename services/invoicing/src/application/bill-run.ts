// Bill runs: one cycle date, many accounts, in batches. The run and its batch plan are rows, so a
// run survives a crash (a batch is billed in one transaction: it is either done or still pending),
// and starting the same cycle date twice returns the same run. Any driver may process batches
// (the service's own runner or a Temporal workflow): a batch is claimed with FOR UPDATE SKIP
// LOCKED, and the invoice's unique index makes a second billing of an account a no-op anyway.
// A run may start before every account's period has ended in its own time zone (from UTC+14): a
// batch with such accounts bills the others and is WAITING until their periods end; it is billed
// again then (the service's runner claims it by itself, or the same cycle date is started again).
import { DomainError, badInput, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { cycleDaysFor, isCycleDate, periodContaining, periodEndingOn } from '../domain/period';
import { MAX_BILL_RUN_BATCH } from '../domain/bill-run-batch';
import { composeInvoice, type ComposedInvoice } from '../domain/compose';
import { billAccounts, loadCompositionInputs, type AccountRow, type BillingDeps } from './bill-accounts';
import { rows, sql } from './sql';

export type BillRunDriver = 'SERVICE' | 'WORKFLOW';

export interface StartBillRunCommand {
  cycleDate: string;
  batchSize?: number | null;
  driver?: BillRunDriver | null;
  /** Issue (number and send) the invoices at once; false leaves drafts (NEW) to review. Default true. */
  autoIssue?: boolean | null;
  now: Date;
}

export interface BillRunView {
  id: string;
  cycleDate: string;
  state: string;
  driver: string;
  autoIssue: boolean;
  batchSize: number;
  totalAccounts: number;
  totalBatches: number;
  batchesDone: number;
  accountsDone: number;
  invoicesCreated: number;
  /** Accounts whose period had not ended in their own time zone when their batch ran: billed by a later pass. */
  accountsWaiting: number;
  /** When the first of those periods ends (a later pass bills them from then on); null when none waits. */
  nextAttemptAt: Date | null;
  createdAt: Date;
  completedAt: Date | null;
}

export const billRunId = (cycleDate: string): string => `billrun_${cycleDate}`;

/** Latest time zone on earth: a cycle date is in the future until it has begun somewhere. */
const EARLIEST_OFFSET_MS = 14 * 3_600_000;

export async function startBillRun(em: Em, c: StartBillRunCommand): Promise<{ run: BillRunView; started: boolean }> {
  if (!isCycleDate(c.cycleDate)) throw badInput('input.cycleDate', 'The cycle date is a calendar date, YYYY-MM-DD', 'BILL_RUN_DATE_INVALID');
  if (Date.parse(`${c.cycleDate}T00:00:00Z`) - EARLIEST_OFFSET_MS > c.now.getTime()) {
    throw new DomainError('BILL_RUN_DATE_IN_FUTURE', `${c.cycleDate} has not begun yet; a bill run bills periods that have ended`, { field: 'input.cycleDate' });
  }
  const batchSize = c.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BILL_RUN_BATCH) throw badInput('input.batchSize', `The batch size is 1–${MAX_BILL_RUN_BATCH}`, 'BILL_RUN_BATCH_SIZE_INVALID');
  const id = billRunId(c.cycleDate);
  const k = sql(em);
  const existing = await k('bill_run').where({ id }).first();
  if (existing) {
    // Started again: accounts whose period had not ended the first time are billed now if it has.
    await requeueWaitingBatches(em, id, c.now);
    return { run: (await billRunView(em, id))!, started: false };
  }

  const batches = await rows<{ batch_no: number; first_id: string; last_id: string; n: string }>(
    em,
    `select b as batch_no, min(id) as first_id, max(id) as last_id, count(*) as n
       from (select id, (row_number() over (order by id) - 1) / ? as b from billing_account where payment_mode = 'POSTPAID' and bill_cycle_day = any(?::int[])) x
      group by b order by b`,
    [batchSize, cycleDaysFor(c.cycleDate)],
  );
  const total = batches.reduce((a, b) => a + Number(b.n), 0);
  const inserted = await k('bill_run')
    .insert({ id, cycle_date: c.cycleDate, state: batches.length ? 'RUNNING' : 'COMPLETED', driver: c.driver ?? 'SERVICE', auto_issue: c.autoIssue ?? true, batch_size: batchSize, total_accounts: total, total_batches: batches.length, created_at: c.now, completed_at: batches.length ? null : c.now })
    .onConflict('id')
    .ignore()
    .returning('id');
  if ((inserted as unknown[]).length === 0) return { run: (await billRunView(em, id))!, started: false };
  for (let i = 0; i < batches.length; i += 1000) {
    await k('bill_run_batch').insert(
      batches.slice(i, i + 1000).map((b) => ({ bill_run_id: id, batch_no: Number(b.batch_no), first_account_id: b.first_id, last_account_id: b.last_id, accounts: Number(b.n), state: 'PENDING' })),
    );
  }
  return { run: (await billRunView(em, id))!, started: true };
}

/** Puts the WAITING batches whose first unbilled period has ended back to PENDING (and the run to RUNNING). */
async function requeueWaitingBatches(em: Em, runId: string, now: Date): Promise<number> {
  const k = sql(em);
  // Batch rows first, then the run row: the order processBillRunBatch takes them in.
  const requeued = (await k('bill_run_batch').where({ bill_run_id: runId, state: 'WAITING' }).andWhere('wait_until', '<=', now).update({ state: 'PENDING' }).returning('batch_no')) as unknown[];
  if (requeued.length > 0) await k('bill_run').where({ id: runId }).update({ state: 'RUNNING', completed_at: null });
  return requeued.length;
}

export async function billRunView(em: Em, id: string): Promise<BillRunView | null> {
  const [r] = await rows<Record<string, any>>(
    em,
    `select r.*, coalesce(sum(case when b.state = 'DONE' then 1 else 0 end), 0) as batches_done,
            coalesce(sum(case when b.state = 'DONE' then b.accounts when b.waiting > 0 then b.accounts - b.waiting else 0 end), 0) as accounts_done,
            coalesce(sum(b.invoices_created), 0) as invoices_created,
            coalesce(sum(case when b.state = 'WAITING' then b.waiting else 0 end), 0) as accounts_waiting,
            min(case when b.state = 'WAITING' then b.wait_until end) as next_attempt_at
       from bill_run r left join bill_run_batch b on b.bill_run_id = r.id where r.id = ? group by r.id`,
    [id],
  );
  if (!r) return null;
  return {
    id: r.id,
    cycleDate: r.cycle_date,
    state: r.state,
    driver: r.driver,
    autoIssue: Boolean(r.auto_issue),
    batchSize: r.batch_size,
    totalAccounts: r.total_accounts,
    totalBatches: r.total_batches,
    batchesDone: Number(r.batches_done),
    accountsDone: Number(r.accounts_done),
    invoicesCreated: Number(r.invoices_created),
    accountsWaiting: Number(r.accounts_waiting),
    nextAttemptAt: r.next_attempt_at ? new Date(r.next_attempt_at) : null,
    createdAt: r.created_at,
    completedAt: r.completed_at,
  };
}

export interface BatchOutcome {
  batchNo: number;
  accounts: number;
  /** Invoices the batch has created so far (over all its passes). */
  invoicesCreated: number;
  /** Accounts whose period has not ended yet in their own time zone: the batch bills them later. */
  waiting: number;
}

/**
 * Bills one pending batch of a run (a given one, or any pending one, or a WAITING one whose first
 * unbilled period has ended) in the caller's transaction. Returns null when there is nothing to
 * claim. A batch already DONE is reported again, unchanged. A batch with accounts whose period has
 * not ended yet bills the others and stays WAITING until then; the run is COMPLETED once no batch
 * is PENDING (accounts still waiting are billed by a later pass, see the file header).
 */
export async function processBillRunBatch(em: Em, runId: string, batchNo: number | null, deps: BillingDeps, now: Date): Promise<BatchOutcome | null> {
  const k = sql(em);
  const run = await k('bill_run').where({ id: runId }).first();
  if (!run) throw notFound('BillRun', runId, 'runId');
  let q = k('bill_run_batch').where({ bill_run_id: runId });
  q =
    batchNo == null
      ? q.andWhere((w) => w.where({ state: 'PENDING' }).orWhere((x) => x.where({ state: 'WAITING' }).andWhere('wait_until', '<=', now))).orderBy('batch_no').limit(1)
      : q.andWhere({ batch_no: batchNo });
  const [batch] = await q.forUpdate().skipLocked();
  if (!batch) {
    if (batchNo == null) await settleRun(em, runId, now);
    return null;
  }
  if (batch.state === 'DONE') return { batchNo: batch.batch_no, accounts: batch.accounts, invoicesCreated: batch.invoices_created, waiting: 0 };

  const accounts = await rows<AccountRow>(
    em,
    `select * from billing_account where payment_mode = 'POSTPAID' and bill_cycle_day = any(?::int[]) and id >= ? and id <= ? order by id`,
    [cycleDaysFor(run.cycle_date), batch.first_account_id, batch.last_account_id],
  );
  const all = accounts.map((account) => ({ account, period: periodEndingOn(run.cycle_date, account.bill_cycle_day, account.timezone) }));
  let targets = all.filter((t) => t.period.end <= now);
  const waiting = all.filter((t) => t.period.end > now);
  if (batch.waiting > 0 && targets.length > 0) {
    // A later pass: the accounts an earlier pass billed have their invoice; compose only the others.
    const billed = new Set(
      (
        await rows<{ billing_account_id: string }>(
          em,
          `select i.billing_account_id from unnest(?::text[], ?::timestamptz[]) as p(account_id, period_start)
             join invoice i on i.billing_account_id = p.account_id and i.period_start = p.period_start and i.voided_at is null and i.kind = 'PERIOD'`,
          [targets.map((t) => t.account.id), targets.map((t) => t.period.start)],
        )
      ).map((r) => r.billing_account_id),
    );
    targets = targets.filter((t) => !billed.has(t.account.id));
  }
  const result = await billAccounts(em, targets, deps, { now, billRunId: runId, autoIssue: Boolean(run.auto_issue) });
  const invoicesCreated = Number(batch.invoices_created) + result.created.length;
  const waitUntil = waiting.length > 0 ? new Date(Math.min(...waiting.map((t) => t.period.end.getTime()))) : null;
  await k('bill_run_batch')
    .where({ bill_run_id: runId, batch_no: batch.batch_no })
    .update({ state: waiting.length > 0 ? 'WAITING' : 'DONE', invoices_created: invoicesCreated, waiting: waiting.length, wait_until: waitUntil, completed_at: waiting.length > 0 ? null : now });
  await settleRun(em, runId, now);
  return { batchNo: batch.batch_no, accounts: accounts.length, invoicesCreated, waiting: waiting.length };
}

/**
 * COMPLETED when no batch is PENDING, RUNNING otherwise. The run row is locked first, so batches
 * finishing side by side see each other's commits here (each could otherwise count the other as
 * still pending, and neither would complete the run).
 */
async function settleRun(em: Em, runId: string, now: Date): Promise<void> {
  const k = sql(em);
  await k('bill_run').where({ id: runId }).forUpdate().first();
  const [{ pending }] = await rows<{ pending: string }>(em, `select count(*) as pending from bill_run_batch where bill_run_id = ? and state = 'PENDING'`, [runId]);
  if (Number(pending) === 0) await k('bill_run').where({ id: runId }).whereNot({ state: 'COMPLETED' }).update({ state: 'COMPLETED', completed_at: now });
  else await k('bill_run').where({ id: runId }).whereNot({ state: 'RUNNING' }).update({ state: 'RUNNING', completed_at: null });
}

/** Runs the service's own runner has work for: running ones, and finished ones with accounts still waiting. */
export async function runnableBillRuns(em: Em): Promise<string[]> {
  return (
    await rows<{ id: string }>(
      em,
      `select r.id from bill_run r
        where r.driver = 'SERVICE' and (r.state = 'RUNNING' or exists (select 1 from bill_run_batch b where b.bill_run_id = r.id and b.state = 'WAITING'))
        order by r.created_at`,
    )
  ).map((r) => r.id);
}

async function loadAccount(em: Em, billingAccountId: string, field: string): Promise<AccountRow> {
  const account = await sql(em)('billing_account').where({ id: billingAccountId }).first();
  if (!account) throw notFound('BillingAccount', billingAccountId, field);
  return account as AccountRow;
}

/**
 * Closes one account's period and bills it (the bill-cycle workflow's activity). Idempotent: the
 * same account and period gives the same invoice.
 */
export async function closeBillingPeriod(em: Em, c: { billingAccountId: string; periodStart: Date; periodEnd: Date; now: Date }, deps: BillingDeps): Promise<{ id: string; invoiceId: string | null }> {
  const account = await loadAccount(em, c.billingAccountId, 'input.billingAccountId');
  if (!(c.periodEnd > c.periodStart)) throw badInput('input.periodEnd', 'A period ends after it starts', 'BILLING_PERIOD_INVALID');
  if (c.periodEnd > c.now) throw new DomainError('BILLING_PERIOD_NOT_ENDED', 'A period can be closed once it has ended', { field: 'input.periodEnd' });
  const id = `bp_${c.billingAccountId}_${c.periodStart.toISOString().slice(0, 10)}`.slice(0, 60);
  const k = sql(em);
  await k('billing_period').insert({ id, billing_account_id: account.id, period_start: c.periodStart, period_end: c.periodEnd, closed_at: c.now }).onConflict(['billing_account_id', 'period_start']).ignore();
  if (account.payment_mode === 'POSTPAID') await billAccounts(em, [{ account, period: { start: c.periodStart, end: c.periodEnd } }], deps, { now: c.now, autoIssue: true });
  const invoice = await k('invoice').where({ billing_account_id: account.id, period_start: c.periodStart, kind: 'PERIOD' }).whereNull('voided_at').first();
  if (invoice) await k('billing_period').where({ id }).update({ invoice_id: invoice.id });
  return { id, invoiceId: invoice?.id ?? null };
}

/** The invoice the account would get at the end of its current period, computed and not stored. */
export async function previewNextInvoice(em: Em, billingAccountId: string, deps: BillingDeps, now: Date): Promise<{ periodStart: Date; periodEnd: Date; invoice: ComposedInvoice }> {
  const account = await loadAccount(em, billingAccountId, 'billingAccountId');
  const period = periodContaining(now, account.bill_cycle_day, account.timezone);
  const inputs = await loadCompositionInputs(em, [{ account, period }], deps, now);
  return { periodStart: period.start, periodEnd: period.end, invoice: composeInvoice(inputs.get(account.id)!) };
}
