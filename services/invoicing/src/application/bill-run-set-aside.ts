// Accounts a bill run sets aside. A batch bills its accounts in one transaction; one account it cannot
// bill for a reason its own data gives (its subscription names a plan version neither invoicing nor the
// catalog knows: PLAN_VERSION_UNKNOWN; any other coded refusal; a value the invoice tables cannot hold)
// failed the whole batch, which every driver retried for ever: the batch's other accounts were never
// billed and the run never completed. Now such an account is set aside with its reason, the rest of the
// batch is billed, and the account is billed once its data is fixed (the invoice stays unique per
// account and period, so it is billed once). A failure that is not the account's (the database, the
// catalog down, a lock timeout) still fails the batch: it is retried and nothing is set aside.
import { randomUUID } from 'node:crypto';
import { DomainError } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { accountsRefused, billAccounts, type BillingDeps, type BillOptions, type BillResult, type BillTarget } from './bill-accounts';
import { rows, sql } from './sql';

export interface SetAsideRefusal {
  billingAccountId: string;
  code: string;
  /** Stored and shown to staff (BillRun.setAsideAccounts.message): never a failure's own text (a statement, its values). */
  message: string;
  field: string | null;
  /**
   * A refusal that is not a coded one (BILL_UNSTORABLE): the reference its message quotes and the failure itself, for
   * the log line that reports the account set aside (`{ ...refusal }`: logged as `err` and `reference`); neither stored
   * nor answered.
   */
  reference?: string;
  err?: unknown;
}

export interface SetAsideAccount extends SetAsideRefusal {
  batchNo: number;
  attempts: number;
  setAsideAt: Date;
  lastAttemptAt: Date;
}

/**
 * The refusal, when billing an account failed for a reason its data gives and a retry alone cannot
 * change: a DomainError (a coded refusal; not INTERNAL), or PostgreSQL refusing a value (SQLSTATE class
 * 22, data exception: a number or text the invoice tables cannot hold; 23502 / 23514, a null or a check
 * the data breaks): BILL_UNSTORABLE, its message what was refused and a fresh reference, the error itself in
 * `err` for the log line that reports the account set aside (`unstorableMessage`). Null for anything else
 * (connections, timeouts, deadlocks, serialization, the catalog unreachable): transient, the batch is retried.
 */
export function permanentRefusal(err: unknown): Omit<SetAsideRefusal, 'billingAccountId'> | null {
  if (err instanceof DomainError) return err.category === 'INTERNAL' ? null : { code: err.code, message: err.message, field: typeof err.details.field === 'string' ? err.details.field : null };
  const state = (err as { code?: unknown } | null)?.code;
  if (typeof state === 'string' && /^(22[0-9A-Z]{3}|23502|23514)$/.test(state)) {
    const reference = randomUUID();
    return { code: 'BILL_UNSTORABLE', message: unstorableMessage(state, err as PgErrorFields, reference), field: null, reference, err };
  }
  return null;
}

/** The fields PostgreSQL names in an error (node-postgres' DatabaseError): identifiers of the schema, no values. */
interface PgErrorFields {
  column?: unknown;
  constraint?: unknown;
}

/** What PostgreSQL refused, in words, by SQLSTATE (its own text can quote the value: `invalid input syntax for type numeric: "…"`). */
function unstorableWhat(state: string): string {
  if (state === '22003') return 'a number too large for its column';
  if (state === '22001') return 'a text too long for its column';
  if (state === '22007' || state === '22008') return 'a date or time out of range';
  if (state === '23502') return 'a required value missing';
  if (state === '23514') return 'a value a check constraint refuses';
  return 'a value the invoice tables cannot hold';
}

/**
 * A BILL_UNSTORABLE refusal's message: what PostgreSQL refused (SQLSTATE, and the column and constraint when it names
 * them) and the reference of the log line that has the whole error. Never the error's message: the driver puts the
 * whole statement first, and PostgreSQL's text or detail can hold the values (`Failing row contains (…)`).
 */
function unstorableMessage(state: string, err: PgErrorFields, reference: string): string {
  const name = (v: unknown) => (typeof v === 'string' && /^[A-Za-z0-9_$]{1,63}$/.test(v) ? v : null);
  const column = name(err.column);
  const constraint = name(err.constraint);
  const where = [`SQLSTATE ${state}`, ...(column ? [`column ${column}`] : []), ...(constraint ? [`constraint ${constraint}`] : [])].join(', ');
  return `PostgreSQL refused the account's invoice: ${unstorableWhat(state)} (${where}); details in the log under reference ${reference}`;
}

/**
 * `billAccounts` for the targets, setting aside the accounts that cannot be billed. Each attempt bills a
 * group of them in a savepoint; refused for a permanent reason, the savepoint is rolled back (nothing of
 * that attempt stays). First all of them at once (none refused: one attempt). A refusal that names the
 * accounts it hits (`accountsRefused`: a plan version unknown, every account billing it) sets them aside
 * at once and the others are tried again: one attempt more per such cause, however many accounts it hits.
 * Otherwise a refused account is looked for by halving the group: a first half billed leaves it in the
 * second half (not tried whole again); a first half refused is looked into, the second half waits. Such an
 * account is set aside only once refused on its own. The accounts after it are then tried in blocks that
 * start at the number billed before it in its group and double while they are billed: a dense cause soon
 * tries them one by one, a sparse one goes back to large blocks. Attempts for n accounts, the cause not
 * naming them: one refused, at most about 2·log2 n (7 to 14 for 64; halving alike: 13); every one refused
 * (a value the invoice tables cannot hold, for all), n + log2 n over about 3n accounts billed in all
 * (halving down to each account was 2n − 1 attempts over n·log2 n accounts); every other one refused,
 * about 1.5n, the worst pattern seen. `test/bill-run-set-aside-cost.test.ts` counts and times them. A
 * transient failure is thrown (the caller's transaction rolls back: the batch is retried whole).
 * `spent` (the caller's time budget, asked after each step that decided an account, never before the first):
 * once it answers true, the accounts not decided yet (neither billed nor set aside) are returned as
 * `undecided`, in their order, for a later call; those decided stand (billed, or set aside).
 */
export async function billSettingAside(
  em: Em,
  targets: BillTarget[],
  deps: BillingDeps,
  opts: BillOptions,
  spent: () => boolean = () => false,
): Promise<{ result: BillResult; setAside: SetAsideRefusal[]; undecided: BillTarget[] }> {
  const k = sql(em);
  const result: BillResult = { created: [] };
  const setAside: SetAsideRefusal[] = [];
  /** Bills the group in a savepoint: null when billed, else its permanent refusal and the accounts it names (the attempt rolled back). */
  const attempt = async (group: BillTarget[]): Promise<(Omit<SetAsideRefusal, 'billingAccountId'> & { accounts: string[] | null }) | null> => {
    await k.raw('savepoint bill_run_accounts');
    try {
      const r = await billAccounts(em, group, deps, opts);
      await k.raw('release savepoint bill_run_accounts');
      result.created.push(...r.created);
      if (r.disputesClosed?.length) (result.disputesClosed ??= []).push(...r.disputesClosed);
      return null;
    } catch (err) {
      const refusal = permanentRefusal(err);
      if (!refusal) throw err;
      await k.raw('rollback to savepoint bill_run_accounts');
      await k.raw('release savepoint bill_run_accounts');
      return { ...refusal, accounts: accountsRefused(err) };
    }
  };
  const setAsideFor = (accountId: string, { accounts: _, ...refusal }: Omit<SetAsideRefusal, 'billingAccountId'> & { accounts: string[] | null }) => setAside.push({ billingAccountId: accountId, ...refusal });
  let rest = targets;
  let size = targets.length;
  while (rest.length > 0) {
    if (rest.length < targets.length && spent()) break;
    const block = rest.slice(0, size);
    let refusal = await attempt(block);
    if (!refusal) {
      rest = rest.slice(block.length);
      size *= 2;
      continue;
    }
    const named = new Set(refusal.accounts ?? []);
    if (block.some((t) => named.has(t.account.id))) {
      // The refusal says which accounts it hits: those are set aside, the others are tried again.
      for (const t of block) if (named.has(t.account.id)) setAsideFor(t.account.id, refusal);
      rest = [...block.filter((t) => !named.has(t.account.id)), ...rest.slice(block.length)];
      continue;
    }
    // One refused account of the block: the accounts before it are billed, those after it wait.
    let group = block;
    let triedAlone = group.length === 1;
    let billed = 0;
    let waiting: BillTarget[] = [];
    while (group.length > 1) {
      const half = Math.ceil(group.length / 2);
      const first = group.slice(0, half);
      const refused = await attempt(first);
      if (refused) {
        waiting = [...group.slice(half), ...waiting];
        group = first;
        refusal = refused;
        triedAlone = first.length === 1;
      } else {
        billed += first.length;
        group = group.slice(half);
        triedAlone = false;
      }
    }
    // Found by elimination (the rest of a refused group): set aside only if refused on its own too.
    if (!triedAlone) refusal = await attempt(group);
    if (refusal) setAsideFor(group[0]!.account.id, refusal);
    else billed += 1;
    rest = [...waiting, ...rest.slice(block.length)];
    size = Math.max(billed, 1);
  }
  return { result, setAside, undecided: rest };
}

/** Records (or records again: one more attempt, the latest reason) the accounts a pass set aside. */
export async function recordSetAside(em: Em, runId: string, batchNo: number, refusals: SetAsideRefusal[], now: Date): Promise<void> {
  if (refusals.length === 0) return;
  await rows(
    em,
    `insert into bill_run_account_set_aside (bill_run_id, billing_account_id, batch_no, code, message, field, attempts, set_aside_at, last_attempt_at)
     select ?, p.account_id, ?, p.code, p.message, p.field, 1, ?, ? from unnest(?::text[], ?::text[], ?::text[], ?::text[]) as p(account_id, code, message, field)
     on conflict (bill_run_id, billing_account_id) do update
        set batch_no = excluded.batch_no, code = excluded.code, message = excluded.message, field = excluded.field, last_attempt_at = excluded.last_attempt_at,
            attempts = bill_run_account_set_aside.attempts + 1, resolved_at = null, invoice_id = null,
            set_aside_at = case when bill_run_account_set_aside.resolved_at is null then bill_run_account_set_aside.set_aside_at else excluded.set_aside_at end`,
    [runId, batchNo, now, now, refusals.map((r) => r.billingAccountId), refusals.map((r) => r.code.slice(0, 80)), refusals.map((r) => r.message), refusals.map((r) => r.field?.slice(0, 200) ?? null)],
  );
}

/**
 * The set-aside accounts of the run among `accountIds` (billed by this pass, or found billed already)
 * are no longer set aside: resolved, with the live period invoice they now have. Returns those resolved.
 */
export async function resolveSetAside(em: Em, runId: string, accountIds: string[], now: Date): Promise<{ billingAccountId: string; batchNo: number; invoiceId: string | null }[]> {
  if (accountIds.length === 0) return [];
  return (
    await rows<{ billing_account_id: string; batch_no: number; invoice_id: string | null }>(
      em,
      `update bill_run_account_set_aside s set resolved_at = ?,
              invoice_id = (select i.id from invoice i where i.billing_account_id = s.billing_account_id and i.kind = 'PERIOD' and i.voided_at is null and i.bill_run_id = s.bill_run_id order by i.period_end desc limit 1)
        where s.bill_run_id = ? and s.billing_account_id = any(?::text[]) and s.resolved_at is null
        returning s.billing_account_id, s.batch_no, s.invoice_id`,
      [now, runId, accountIds],
    )
  ).map((r) => ({ billingAccountId: r.billing_account_id, batchNo: Number(r.batch_no), invoiceId: r.invoice_id }));
}

/** The batch's accounts set aside and not billed since. */
export async function setAsideInBatch(em: Em, runId: string, batchNo: number): Promise<number> {
  const [r] = await rows<{ n: string }>(em, 'select count(*) as n from bill_run_account_set_aside where bill_run_id = ? and batch_no = ? and resolved_at is null', [runId, batchNo]);
  return Number(r?.n ?? 0);
}

/** The run's accounts set aside and not billed since (all, or those named), by account id. */
export async function setAsideAccounts(em: Em, runId: string, accountIds?: string[] | null, { lock = false } = {}): Promise<SetAsideAccount[]> {
  return (
    await rows<{ billing_account_id: string; batch_no: number; code: string; message: string; field: string | null; attempts: number; set_aside_at: Date; last_attempt_at: Date }>(
      em,
      `select * from bill_run_account_set_aside where bill_run_id = ? and resolved_at is null and (?::text[] is null or billing_account_id = any(?::text[]))
        order by billing_account_id${lock ? ' for update' : ''}`,
      [runId, accountIds ?? null, accountIds ?? null],
    )
  ).map((r) => ({
    billingAccountId: r.billing_account_id,
    batchNo: Number(r.batch_no),
    code: r.code,
    message: r.message,
    field: r.field,
    attempts: Number(r.attempts),
    setAsideAt: new Date(r.set_aside_at),
    lastAttemptAt: new Date(r.last_attempt_at),
  }));
}

/** Set-aside accounts not billed since, by code: the gauge `ledgerline_invoicing_bill_run_accounts_set_aside` (one statement over a partial index). */
export async function countSetAsideByCode(query: (text: string, params: unknown[]) => Promise<{ code: string; n: string | number }[]>): Promise<Map<string, number>> {
  return new Map((await query('select code, count(*) as n from bill_run_account_set_aside where resolved_at is null group by code', [])).map((r) => [r.code, Number(r.n)]));
}
