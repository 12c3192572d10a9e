// Bill runs: one cycle date, many accounts, in batches. The run and its batch plan are rows, so a
// run survives a crash (a batch is billed in one transaction: it is either done or still pending),
// and starting the same cycle date twice returns the same run. Any driver may process batches
// (the service's own runner or a Temporal workflow): a batch is claimed with FOR UPDATE SKIP
// LOCKED, and the invoice's unique index makes a second billing of an account a no-op anyway.
// A run may start before every account's period has ended in its own time zone (from UTC+14): a
// batch with such accounts bills the others and is WAITING until their periods end; it is billed
// again then (the service's runner claims it by itself, or the same cycle date is started again).
// The batches' id ranges cover the whole key space (a batch bills the ids after the previous
// batch's last one, the first and the last batch are open-ended), so an account invoicing learns
// of after the plan was made (event lag, a run started early) falls in a batch too; one whose batch
// was already done is found by a final pass when the run completes, or when the same cycle date is
// started again, and its batch bills it (WAITING, due at once). Every account of the cycle is
// billed for the period once: billAccounts skips the days a live invoice already bills.
// An account the batch cannot bill for a reason its data gives (a coded refusal such as
// PLAN_VERSION_UNKNOWN: a retry alone does not change it) is set aside with its reason
// (bill_run_account_set_aside), the rest of the batch is billed and the run completes; it is billed
// once its data is fixed (`billSetAsideAccounts`, or the cycle date started again). Anything else (the
// database, the catalog down) fails the batch as before: it stays pending and is retried.
import { DomainError, badInput, notFound } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { cycleDaysFor, isCycleDate, periodContaining, type Period } from '../domain/period';
import { cycleAt, cyclePeriod, periodFrom, prorateOverCycle, type AccountCycle } from '../domain/bill-cycle';
import { MAX_BILL_RUN_BATCH } from '../domain/bill-run-batch';
import { composeInvoice, type ComposedInvoice } from '../domain/compose';
import { billAccounts, loadCompositionInputs, type AccountRow, type BillingDeps, type BillResult, type BillTarget } from './bill-accounts';
import { billSettingAside, recordSetAside, resolveSetAside, setAsideAccounts, setAsideInBatch, type SetAsideAccount, type SetAsideRefusal } from './bill-run-set-aside';
import { creditFeesAfterClosure } from './closure-credit';
import { tellCreditPaidAfterCommit } from './credit-paid-told';
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
  /** Accounts set aside (their batch could not bill them, see `SetAsideAccount`) and not billed since. */
  accountsSetAside: number;
  createdAt: Date;
  completedAt: Date | null;
}

/**
 * Accounts a cycle date may bill: of its cycle day, or of its old cycle day while a bill-cycle change
 * is not in effect yet (`cyclePeriod` decides; two parameters: the cycle days, twice).
 */
const OF_CYCLE = '(bill_cycle_day = any(?::int[]) or prev_bill_cycle_day = any(?::int[]))';

/** Each account's period for the cycle date (`cyclePeriod`); accounts the date does not bill are left out. */
function targetsOf(accounts: AccountRow[], cycleDate: string): { account: AccountRow; period: Period; reference: Period }[] {
  return accounts.flatMap((account) => {
    const p = cyclePeriod(account, cycleDate);
    return p ? [{ account, period: p.period, reference: p.reference }] : [];
  });
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
    // Started again: accounts whose period had not ended the first time are billed now if it has,
    // and so are accounts of the cycle no batch has billed yet (they arrived after the plan).
    // Set-aside accounts too: their data may have been fixed since (still refused: set aside again).
    await markUnbilledAccounts(em, existing, c.now, { withSetAside: true });
    await requeueWaitingBatches(em, id, c.now);
    return { run: (await billRunView(em, id))!, started: false };
  }

  const batches = await rows<{ batch_no: number; first_id: string; last_id: string; n: string }>(
    em,
    `select b as batch_no, min(id) as first_id, max(id) as last_id, count(*) as n
       from (select id, (row_number() over (order by id) - 1) / ? as b from billing_account where payment_mode = 'POSTPAID' and ${OF_CYCLE}) x
      group by b order by b`,
    [batchSize, cycleDaysFor(c.cycleDate), cycleDaysFor(c.cycleDate)],
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
            coalesce(sum(case when b.state = 'DONE' then b.accounts when b.waiting > 0 then greatest(b.accounts - b.waiting, 0) else 0 end), 0) as accounts_done,
            coalesce(sum(b.invoices_created), 0) as invoices_created,
            coalesce(sum(case when b.state = 'WAITING' then b.waiting else 0 end), 0) as accounts_waiting,
            min(case when b.state = 'WAITING' then b.wait_until end) as next_attempt_at,
            (select count(*) from bill_run_account_set_aside s where s.bill_run_id = r.id and s.resolved_at is null) as accounts_set_aside
       from bill_run r left join bill_run_batch b on b.bill_run_id = r.id where r.id = ? group by r.id`,
    [id],
  );
  if (!r) return null;
  const setAside = Number(r.accounts_set_aside);
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
    // A batch's set-aside accounts are not billed: not done until they are.
    accountsDone: Math.max(Number(r.accounts_done) - setAside, 0),
    invoicesCreated: Number(r.invoices_created),
    accountsWaiting: Number(r.accounts_waiting),
    nextAttemptAt: r.next_attempt_at ? new Date(r.next_attempt_at) : null,
    accountsSetAside: setAside,
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
  /** The batch's accounts set aside and not billed since (counted in `accounts`, not billed). */
  setAside: number;
  /** Accounts this pass set aside, with their reason (for the driver's log). */
  setAsideNow?: SetAsideRefusal[];
  /** Disputes of usage records this pass's billed rerate corrections closed (to be told after commit). */
  disputesClosed?: string[];
  /**
   * Accounts this call left for the next call of the same batch (its time budget spent before it decided them):
   * the batch stays PENDING until every account is billed or set aside. Absent: the call decided them all.
   */
  accountsLeft?: number;
}

/**
 * How long one call billing a batch goes on deciding its accounts (`billSettingAside`) before it commits what it
 * decided and leaves the rest for the next call (default; `BillingDeps.billRunBatchBudgetMs`). Under the bill-run
 * workflow's 90 s call timeout (workflows/src/activities/invoicing.ts `billRunCallTimeoutMs`) with room for the
 * attempt under way when it is spent (a whole batch of the largest size: ~5 s here) and the commit. A cause that does
 * not name its accounts costs about an attempt per account it hits (~25 ms here): all 10,000 of a batch took minutes
 * in one call, cut off by the workflow (invoicing's transaction went on; its retries waited on the batch's lock).
 */
export const DEFAULT_BILL_RUN_BATCH_BUDGET_MS = 60_000;

/** A time budget: true once `ms` have passed since it was made (elapsed time, not the business clock `now`). */
function budget(ms: number): () => boolean {
  const started = performance.now();
  return () => performance.now() - started >= ms;
}

/**
 * Bills targets of a run in the caller's transaction, as its batches do; `processBillRunBatch` and
 * `billSetAsideAccounts` both bill through here, so an account billed late is billed as its batch would have
 * billed it. `billSettingAside` (billAccounts: the invoices issued when the run auto-issues, their events,
 * the account credit applied, disputes a rerate correction closed told after commit) sets aside the accounts
 * refused (recorded under their batch, `batchOf`) and the others are no longer set aside; once the
 * transaction commits, the dunning of invoices the billed accounts' credit paid looks again
 * (credit-paid-told.ts: a negative invoice paying an older, dunned one).
 */
async function billForRun(
  em: Em,
  run: { id: string; auto_issue: unknown },
  targets: BillTarget[],
  batchOf: (billingAccountId: string) => number,
  deps: BillingDeps,
  now: Date,
): Promise<{ result: BillResult; setAside: SetAsideRefusal[]; undecided: BillTarget[] }> {
  const spent = budget(deps.billRunBatchBudgetMs ?? DEFAULT_BILL_RUN_BATCH_BUDGET_MS);
  const { result, setAside, undecided } = await billSettingAside(em, targets, deps, { now, billRunId: run.id, autoIssue: Boolean(run.auto_issue) }, spent);
  for (const batchNo of new Set(setAside.map((r) => batchOf(r.billingAccountId)))) {
    await recordSetAside(em, run.id, batchNo, setAside.filter((r) => batchOf(r.billingAccountId) === batchNo), now);
  }
  // Accounts the call did not get to are neither billed nor set aside again: one set aside before stays so.
  const notBilled = new Set([...setAside.map((r) => r.billingAccountId), ...undecided.map((t) => t.account.id)]);
  await resolveSetAside(em, run.id, targets.map((t) => t.account.id).filter((id) => !notBilled.has(id)), now);
  tellCreditPaidAfterCommit(em, deps, result.created.map((c) => c.billingAccountId), now);
  return { result, setAside, undecided };
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
  // Any batch: one nobody holds (drivers side by side take different ones). A named batch (the
  // workflow's, by number): waited for while another transaction holds it, so the answer is what
  // that one left: DONE once it commits, or billed here if it rolled back. Skipped, a retry of an
  // attempt whose answer was lost (still open here) answered "nothing", which the worker counted as
  // the batch done: rolled back after that, the batch stayed PENDING in a run no other driver bills.
  const [batch] = batchNo == null ? await q.forUpdate().skipLocked() : await q.forUpdate();
  if (!batch) {
    if (batchNo == null) await settleRun(em, runId, now);
    return null;
  }
  if (batch.state === 'DONE') return { batchNo: batch.batch_no, accounts: batch.accounts, invoicesCreated: batch.invoices_created, waiting: 0, setAside: await setAsideInBatch(em, runId, batch.batch_no) };

  // The batch's range: after the previous batch's last id (the first batch: from the start), up to
  // its own last id (the last batch: to the end). Accounts added since the plan are in one of them.
  const prev = batch.batch_no > 0 ? await k('bill_run_batch').where({ bill_run_id: runId, batch_no: batch.batch_no - 1 }).first('last_account_id') : null;
  const isLast = batch.batch_no >= Number(run.total_batches) - 1;
  const accounts = await rows<AccountRow>(
    em,
    `select * from billing_account where payment_mode = 'POSTPAID' and ${OF_CYCLE}
        and (?::text is null or id > ?::text) and (?::boolean or id <= ?::text) order by id`,
    [cycleDaysFor(run.cycle_date), cycleDaysFor(run.cycle_date), prev?.last_account_id ?? null, prev?.last_account_id ?? null, isLast, batch.last_account_id],
  );
  const all = targetsOf(accounts, run.cycle_date);
  // A later pass re-reads the accounts an earlier pass billed: billAccounts skips them (their period has its live invoice).
  let targets = all.filter((t) => t.period.end <= now);
  const waiting = all.filter((t) => t.period.end > now);
  // A call before this one stopped on its time budget: this one goes on after the last account it decided (in the
  // database's order), leaving out the accounts it set aside (those it set aside out of order: every account
  // billing a plan version unknown). Compared in SQL, in the order the accounts were read.
  const resumeAfter: string | null = batch.resume_after ?? null;
  if (resumeAfter != null) {
    const done = new Set(
      (
        await rows<{ id: string }>(
          em,
          `select a.id from unnest(?::text[]) as a(id) where a.id <= ?::text
            union select s.billing_account_id from bill_run_account_set_aside s where s.bill_run_id = ? and s.batch_no = ? and s.resolved_at is null`,
          [targets.map((t) => t.account.id), resumeAfter, runId, batch.batch_no],
        )
      ).map((r) => r.id),
    );
    targets = targets.filter((t) => !done.has(t.account.id));
  }
  const { result, setAside, undecided } = await billForRun(em, run, targets, () => batch.batch_no, deps, now);
  const invoicesCreated = Number(batch.invoices_created) + result.created.length;
  const waitUntil = waiting.length > 0 ? new Date(Math.min(...waiting.map((t) => t.period.end.getTime()))) : null;
  // Left for the next call: the batch stays PENDING, to go on after the last account before the first one left.
  const firstLeft = undecided.length > 0 ? targets.findIndex((t) => t.account.id === undecided[0]!.account.id) : -1;
  const nextResumeAfter = undecided.length === 0 ? null : firstLeft > 0 ? targets[firstLeft - 1]!.account.id : (resumeAfter ?? '');
  const state = undecided.length > 0 ? 'PENDING' : waiting.length > 0 ? 'WAITING' : 'DONE';
  await k('bill_run_batch')
    .where({ bill_run_id: runId, batch_no: batch.batch_no })
    .update({ state, accounts: accounts.length, invoices_created: invoicesCreated, waiting: waiting.length, wait_until: waitUntil, completed_at: state === 'DONE' ? now : null, resume_after: nextResumeAfter });
  if (accounts.length !== Number(batch.accounts)) {
    // Accounts that arrived after the plan: counted in the batch and the run (the run row last, as settleRun takes it).
    await k('bill_run').where({ id: runId }).increment('total_accounts', accounts.length - Number(batch.accounts));
  }
  await settleRun(em, runId, now);
  return {
    batchNo: batch.batch_no,
    accounts: accounts.length,
    invoicesCreated,
    waiting: waiting.length,
    setAside: await setAsideInBatch(em, runId, batch.batch_no),
    ...(setAside.length ? { setAsideNow: setAside } : {}),
    ...(result.disputesClosed?.length ? { disputesClosed: result.disputesClosed } : {}),
    ...(undecided.length ? { accountsLeft: undecided.length } : {}),
  };
}

/**
 * COMPLETED when no batch is PENDING, RUNNING otherwise. The run row is locked first, so batches
 * finishing side by side see each other's commits here (each could otherwise count the other as
 * still pending, and neither would complete the run).
 */
async function settleRun(em: Em, runId: string, now: Date): Promise<void> {
  const k = sql(em);
  const run = await k('bill_run').where({ id: runId }).forUpdate().first();
  const [{ pending }] = await rows<{ pending: string }>(em, `select count(*) as pending from bill_run_batch where bill_run_id = ? and state = 'PENDING'`, [runId]);
  // The final pass, once per completion: accounts that arrived after their batch was billed.
  if (Number(pending) === 0 && run.state !== 'COMPLETED') await markUnbilledAccounts(em, run, now);
  if (Number(pending) === 0) await k('bill_run').where({ id: runId }).whereNot({ state: 'COMPLETED' }).update({ state: 'COMPLETED', completed_at: now });
  else await k('bill_run').where({ id: runId }).whereNot({ state: 'RUNNING' }).update({ state: 'RUNNING', completed_at: null });
}

/**
 * Finds the postpaid accounts of the run's cycle that have no live invoice up to their period's end
 * (they arrived after their batch was billed) and makes their batch bill them: WAITING until their
 * period ends, due at once when it has ended (any driver's next pass claims it, as it claims
 * waiting accounts; the run's state does not change). A batch being billed right now (locked) is
 * left alone: starting the cycle date again finds what it missed. Returns the accounts found.
 */
async function markUnbilledAccounts(em: Em, run: { id: string; cycle_date: string; total_batches: number }, now: Date, { withSetAside = false } = {}): Promise<number> {
  const k = sql(em);
  // Accounts the run set aside are not unbilled for this pass (their batch would set them aside again, and the run
  // never complete): billed by billSetAsideAccounts or when the cycle date is started again.
  const candidates = await rows<AccountCycle & { id: string; billed_to: Date | null }>(
    em,
    `select a.id, a.bill_cycle_day, a.timezone, a.prev_bill_cycle_day, a.prev_timezone, a.bill_cycle_changes_at,
            (select max(i.period_end) from invoice i where i.billing_account_id = a.id and i.kind = 'PERIOD' and i.voided_at is null) as billed_to
       from billing_account a where a.payment_mode = 'POSTPAID' and ${OF_CYCLE}
        and (?::boolean or not exists (select 1 from bill_run_account_set_aside s where s.bill_run_id = ? and s.billing_account_id = a.id and s.resolved_at is null))
        and (a.closed_at is null or exists (select 1 from unbilled_charge c where c.billing_account_id = a.id and c.invoice_id is null)
             or exists (select 1 from one_off_charge o where o.billing_account_id = a.id and o.invoice_id is null and o.waived_at is null))`,
    [cycleDaysFor(run.cycle_date), cycleDaysFor(run.cycle_date), withSetAside, run.id],
  );
  const unbilled = candidates
    .map((a) => ({ id: a.id, end: cyclePeriod(a, run.cycle_date)?.period.end, billedTo: a.billed_to ? new Date(a.billed_to) : null }))
    .filter((a): a is { id: string; end: Date; billedTo: Date | null } => a.end !== undefined && (!a.billedTo || a.billedTo < a.end));
  if (unbilled.length === 0) return 0;
  let totalBatches = Number(run.total_batches);
  if (totalBatches === 0) {
    // Nothing to bill when the run was planned: one batch, its range the whole key space.
    const first = [...unbilled.map((a) => a.id)].sort()[0]!;
    await k('bill_run_batch').insert({ bill_run_id: run.id, batch_no: 0, first_account_id: first, last_account_id: first, accounts: 0, state: 'DONE', completed_at: now }).onConflict(['bill_run_id', 'batch_no']).ignore();
    await k('bill_run').where({ id: run.id }).update({ total_batches: 1 });
    totalBatches = 1;
  }
  // Each account's batch: the first whose last id is at or after it (in the database's order), else the last.
  const batchOf = await rows<{ id: string; batch_no: number | null }>(
    em,
    `select u.id, (select min(b.batch_no) from bill_run_batch b where b.bill_run_id = ? and b.last_account_id >= u.id) as batch_no from unnest(?::text[]) as u(id)`,
    [run.id, unbilled.map((a) => a.id)],
  );
  const byBatch = new Map<number, Date[]>();
  const endOf = new Map(unbilled.map((a) => [a.id, a.end]));
  for (const b of batchOf) {
    const no = b.batch_no == null ? totalBatches - 1 : Number(b.batch_no);
    const ends = byBatch.get(no) ?? [];
    ends.push(endOf.get(b.id)!);
    byBatch.set(no, ends);
  }
  const free = await k('bill_run_batch')
    .where({ bill_run_id: run.id })
    .whereIn('batch_no', [...byBatch.keys()])
    .whereIn('state', ['DONE', 'WAITING'])
    .forUpdate()
    .skipLocked()
    .select('batch_no', 'state', 'waiting', 'wait_until');
  for (const b of free) {
    const ends = byBatch.get(b.batch_no)!;
    const due = new Date(ends.reduce((m, e) => Math.min(m, e.getTime()), b.state === 'WAITING' && b.wait_until ? new Date(b.wait_until).getTime() : Infinity));
    const waiting = Math.max(ends.length, b.state === 'WAITING' ? Number(b.waiting) : 0);
    await k('bill_run_batch').where({ bill_run_id: run.id, batch_no: b.batch_no }).update({ state: 'WAITING', waiting, wait_until: due, completed_at: null });
  }
  return unbilled.length;
}

/**
 * Bills the run's set-aside accounts (all, or those named that are set aside) once their data is fixed:
 * each for its period of the run's cycle date, in this transaction, setting aside again (one more
 * attempt, the latest reason) those still refused. Billed once: an account billed since by any path
 * (its period has its live invoice) bills nothing more and is no longer set aside. Named accounts not set
 * aside in the run are left alone; one whose period has not ended stays set aside. A transient failure
 * is thrown (nothing changes).
 */
export async function billSetAsideAccounts(em: Em, c: { billRunId: string; billingAccountIds?: string[] | null; now: Date }, deps: BillingDeps): Promise<{ billed: string[]; stillSetAside: SetAsideAccount[]; refused: SetAsideRefusal[] }> {
  const k = sql(em);
  const run = await k('bill_run').where({ id: c.billRunId }).first();
  if (!run) throw notFound('BillRun', c.billRunId, 'input.billRunId');
  const held = await setAsideAccounts(em, run.id, c.billingAccountIds ?? null, { lock: true });
  if (held.length === 0) return { billed: [], stillSetAside: [], refused: [] };
  const batchOf = new Map(held.map((a) => [a.billingAccountId, a.batchNo]));
  const accounts = await rows<AccountRow>(em, 'select * from billing_account where id = any(?::text[]) order by id', [held.map((a) => a.billingAccountId)]);
  const targets = targetsOf(accounts, run.cycle_date).filter((t) => t.period.end <= c.now);
  const { result, setAside } = await billForRun(em, run, targets, (id) => batchOf.get(id)!, deps, c.now);
  // The invoices they got count in their batch (and so in the run's invoicesCreated).
  for (const { billingAccountId } of result.created) await k('bill_run_batch').where({ bill_run_id: run.id, batch_no: batchOf.get(billingAccountId)! }).increment('invoices_created', 1);
  return { billed: result.created.map((r) => r.billingAccountId).sort(), stillSetAside: await setAsideAccounts(em, run.id, c.billingAccountIds ?? null), refused: setAside };
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
 * same account and period gives the same invoice. Days of the period a live invoice already bills
 * (a bill run billed the cycle first) are not billed again: the invoice bills the rest, from where
 * that invoice ends, or none is created and the one that billed the period's end is returned.
 * `nextPeriodEnd` is where the account's next period (from this one's end) ends by invoicing's cycle
 * (`periodFrom`: a bill-cycle change, its bridge), null after the final period: the workflow sleeps to
 * it rather than to its own copy of the cycle. A bridge after a change (a period starting at it and
 * ending at the new cycle's boundary) is prorated over the new cycle's period, as a bill run bills it;
 * so is a final period ending before its cycle period does (an account closed mid-cycle). An empty final
 * period (start = end: the account closed at the instant the previous period ended, which billed up to it)
 * bills nothing and marks the account CLOSED at that instant, the same answer every time; any other empty
 * or inverted period is refused BILLING_PERIOD_INVALID. `accountClosedAt` is the account's `closed_at` after the close (null
 * while it is open): when invoicing closed it first (its consumer of billingaccount.closed), the workflow reports that
 * instant rather than the end of the period it asked to close.
 */
export async function closeBillingPeriod(em: Em, c: { billingAccountId: string; periodStart: Date; periodEnd: Date; final?: boolean | null; now: Date }, deps: BillingDeps): Promise<{ id: string; invoiceId: string | null; disputesClosed: string[]; nextPeriodEnd: Date | null; accountClosedAt: Date | null; creditNotes: string[] }> {
  const account = await loadAccount(em, c.billingAccountId, 'input.billingAccountId');
  // An empty final period: the account closed at the instant its previous period ended (that period billed up to it).
  const emptyFinal = Boolean(c.final) && c.periodEnd.getTime() === c.periodStart.getTime();
  if (!(c.periodEnd > c.periodStart) && !emptyFinal) throw badInput('input.periodEnd', 'A period ends after it starts', 'BILLING_PERIOD_INVALID');
  if (c.periodEnd > c.now) throw new DomainError('BILLING_PERIOD_NOT_ENDED', 'A period can be closed once it has ended', { field: 'input.periodEnd' });
  const id = `bp_${c.billingAccountId}_${c.periodStart.toISOString().slice(0, 10)}`.slice(0, 60);
  const k = sql(em);
  // Once this commits: the dunning of older invoices of the account its credit paid (a negative invoice's, a closure
  // credit's) looks again, whichever way the period closes (credit-paid-told.ts; was the resolver's own poke).
  tellCreditPaidAfterCommit(em, deps, [account.id], c.now);
  if (emptyFinal) {
    // Nothing to bill and no period row: the account is CLOSED there (a retry, or closed before: the first end kept), no period follows.
    await k('billing_account').where({ id: account.id }).update({ status: 'CLOSED', closed_at: k.raw('coalesce(closed_at, ?)', [c.periodEnd]) });
    const closedAt = account.closed_at != null ? new Date(account.closed_at) : c.periodEnd;
    const creditNotes = await creditFeesAfterClosure(em, account, closedAt, deps, c.now);
    return { id, invoiceId: null, disputesClosed: [], nextPeriodEnd: null, accountClosedAt: closedAt, creditNotes };
  }
  await k('billing_period').insert({ id, billing_account_id: account.id, period_start: c.periodStart, period_end: c.periodEnd, closed_at: c.now }).onConflict(['billing_account_id', 'period_start']).ignore();
  // The account's final period (the account was closed): nothing is billed after it but charges
  // that arrive late, on an adjustment invoice (`billAccounts`). Closed once (a retry keeps the first end).
  if (c.final) {
    await k('billing_account').where({ id: account.id }).update({ status: 'CLOSED', closed_at: k.raw('coalesce(closed_at, ?)', [c.periodEnd]) });
    account.closed_at = account.closed_at ?? c.periodEnd;
  }
  const changedAt = account.bill_cycle_changes_at != null && account.prev_bill_cycle_day != null ? new Date(account.bill_cycle_changes_at) : null;
  const asBilled = periodFrom(account, c.periodStart);
  const bridge = changedAt != null && Math.abs(c.periodStart.getTime() - changedAt.getTime()) < DAY_MS && asBilled.period.end.getTime() === c.periodEnd.getTime() && asBilled.reference.start < c.periodStart;
  // The final period, closed before its cycle period ends (the account closed mid-cycle): its fees
  // prorated over that cycle period's days, as a bill run prorates a line ended on the closing day.
  const finalPart = Boolean(c.final) && asBilled.reference.start <= c.periodStart && c.periodEnd < asBilled.reference.end;
  const target = { account, period: { start: c.periodStart, end: c.periodEnd }, ...(bridge || finalPart ? { reference: asBilled.reference } : {}) };
  const billed = account.payment_mode === 'POSTPAID' ? await billAccounts(em, [target], deps, { now: c.now, autoIssue: true }) : null;
  const invoice = await k('invoice')
    .where({ billing_account_id: account.id, kind: 'PERIOD' })
    .whereNull('voided_at')
    .andWhere('period_start', '<', c.periodEnd)
    .andWhere('period_end', '>', c.periodStart)
    .orderBy('period_end', 'desc')
    .first();
  if (invoice) await k('billing_period').where({ id }).update({ invoice_id: invoice.id });
  const closed = account.closed_at != null && new Date(account.closed_at) <= c.periodEnd;
  // A period billed whole before the closure was known (by a bill run, or closed here as not final): its fees after the closure come back.
  const creditNotes = c.final && account.closed_at != null ? await creditFeesAfterClosure(em, account, new Date(account.closed_at), deps, c.now) : [];
  return { id, invoiceId: invoice?.id ?? null, disputesClosed: billed?.disputesClosed ?? [], nextPeriodEnd: closed ? null : periodFrom(account, c.periodEnd).period.end, accountClosedAt: account.closed_at != null ? new Date(account.closed_at) : null, creditNotes };
}

const DAY_MS = 86_400_000;

/** The invoice the account would get at the end of its current period, computed and not stored. */
export async function previewNextInvoice(em: Em, billingAccountId: string, deps: BillingDeps, now: Date): Promise<{ periodStart: Date; periodEnd: Date; invoice: ComposedInvoice }> {
  const account = await loadAccount(em, billingAccountId, 'billingAccountId');
  const inEffect = cycleAt(account, now);
  const reference = periodContaining(now, inEffect.day, inEffect.timeZone);
  // The first period after a bill-cycle change starts at the change.
  const changedAt = account.bill_cycle_changes_at ? new Date(account.bill_cycle_changes_at) : null;
  const closedAt = account.closed_at ? new Date(account.closed_at) : null;
  const from = [changedAt && changedAt <= now ? changedAt : null, closedAt].filter((d): d is Date => d != null && d > reference.start && d < reference.end);
  // A closed account: what it still owes after its final period (late charges only).
  const period = from.length ? { start: new Date(Math.max(...from.map((d) => d.getTime()))), end: reference.end } : reference;
  const inputs = await loadCompositionInputs(em, [{ account, period }], deps, now);
  return { periodStart: period.start, periodEnd: period.end, invoice: composeInvoice(prorateOverCycle(inputs.get(account.id)!, reference)) };
}
