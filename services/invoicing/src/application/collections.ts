// The due-date job: what happens when an invoice falls due.
//  1. Autopay: an account with a payment-provider token on file is charged what the invoice still
//     owes, once per invoice (an `autopay_attempt` row per invoice, the provider call and the
//     payment keyed `autopay:<invoiceId>`, so a second run or a restart never charges twice).
//     The charge (amount, currency, token, key) is fixed first in the attempt's own committed row
//     (STARTED); the provider is asked and the payment recorded in a second transaction. When that
//     one fails (after the provider captured, perhaps), every later pass retries exactly the same
//     charge — also once the invoice owes less or nothing: the provider answers the capture it made
//     and the part no longer owed becomes account credit, as an overpayment does. An invoice whose
//     attempt is STARTED is not dunned.
//     The token is asked of subscribers when the account event said there is one (it never
//     travels on the event bus), or was registered here. A decline, or no token after all, is
//     recorded and leaves the invoice unpaid; dunning takes over.
//     An invoice held for a dispute after it was issued is charged its undisputed part (what the
//     disputes leave) on the due date. Each dispute closed after that (rejected, withdrawn, accepted
//     in part) makes what it released due again: the invoice's next attempt (2, 3, …) names that
//     dispute and charges what it released (its amount less what its decision credited), at most
//     what is due then (owed less what its other disputes still hold), once per dispute (key
//     `autopay:<invoiceId>:released:<disputeId>`), the same way; dunning waits for it as for the
//     first. What a dispute gives back while it stays open (a staff hold lowered, a re-rate crediting
//     part of it on the next invoice: `dispute_release` n = 1, 2, …) is a release too, charged once by
//     an attempt of its own (`release_seq` n, key `autopay:<invoiceId>:released:<disputeId>:<n>`); its
//     closing is release 0 and charges what it still held. (Before, one attempt 2 charged the rest
//     once the invoice was released from every dispute: an amount released while another dispute
//     stayed open was dunned, not charged. Until 2027-01 a release charged all that was due: two
//     disputes closed before one pass were both charged against the first. And a lowered hold or a
//     re-rate's part was dunned.) Money due again otherwise (a refund) is no release: dunned.
//     Money a refund makes owed again before the due date is charged on it like the rest; money refunded
//     on or after it is never charged to the card (the refund is not taken back from it): the due-date
//     attempt charges what is owed less those refunds, and records REOPENED_LATE when that leaves nothing
//     (the refund records it at once when it reopens a settled invoice); autopay-reopened.ts.
//  2. Dunning: an overdue invoice that still owes money (autopay, if any, tried already; the
//     releases from its disputes, if the first attempt left money to them, too) gets
//     its dunning workflow, id `dunning-<invoiceId>` (so once, whatever happens). The workflow
//     holds while a dispute covers the amount, stops on payment in full and restores the lines.
//     A refund that makes a paid invoice owe again re-arms it (`dunning_started_at` null): the
//     next pass starts its next dunning, `dunning-<invoiceId>-<n>`, once the previous one is over.
//  3. Disputes: an open dispute whose workflow never started (the start right after openDispute
//     failed: Temporal down) gets it now, `dispute-<disputeId>` (so once). An open dispute whose
//     workflow was started a policy hour ago or more is looked at (at most once a policy hour, a
//     bounded batch, least recently looked at first): when that run has ended (failed, terminated,
//     timed out, canceled) or is unknown, the next run starts, `dispute-<disputeId>-<n>`, and is logged.
// Each invoice is handled in its own transaction; anything that fails is retried by the next pass.
import { DomainError, dec, minorUnits, type Decimal } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import type { PaymentProvider } from '../adapters/payment-provider';
import { outstanding } from '../domain/lifecycle';
import type { DunningPolicy, DunningStarter } from '../ports/dunning';
import type { AutopayTokens } from '../ports/autopay-tokens';
import type { DisputePolicy, DisputeStarter } from '../ports/disputes';
import { disputesToWatch, disputesWithoutWorkflow, markWorkflowChecked, markWorkflowStarted } from './disputes';
import { DEFAULT_DISPUTE_POLICY } from '../domain/disputes';
import { lockCreditOfInvoice } from './credit';
import { dueDateCharge } from './autopay-reopened';
import { recordPayment } from './payments';
import { rows, sql } from './sql';

export interface CollectionsDeps {
  payments: PaymentProvider;
  autopayTokens: AutopayTokens | null;
  dunning: DunningStarter | null;
  policy: DunningPolicy;
  /** Starts dispute workflows whose start after openDispute failed; null: none are started. */
  disputes?: DisputeStarter | null;
  disputePolicy?: DisputePolicy;
}

export interface CollectionsOutcome {
  autopaid: string[];
  declined: string[];
  dunningStarted: string[];
  /** Disputes whose workflow this pass started (the start after openDispute had failed). */
  disputeWorkflowsStarted: string[];
  /** Disputes whose workflow had ended with the dispute open: this pass started their next run. */
  disputeWorkflowsRestarted: string[];
}

/** How many open disputes one pass asks about their workflow, at most. */
const DISPUTE_WATCH_BATCH = 100;

const OPEN = `('SENT', 'PARTIALLY_PAID', 'ON_HOLD')`;

/**
 * Invoices autopay charges on their due date: issued and unpaid, and one held for a dispute after it
 * was issued for its undisputed part — a dispute holds only its amount out of collections, as
 * dunning goes on for the rest of a held invoice (before, autopay skipped a held invoice, and
 * dunning waits for an autopay account's attempt: a 5.00 dispute held all of it, unbounded).
 */
const AUTOPAYABLE = `(i.state in ('SENT', 'PARTIALLY_PAID') or (i.state = 'ON_HOLD' and i.held_from in ('SENT', 'PARTIALLY_PAID')
  and i.total - i.amount_paid - i.amount_credited - coalesce(i.amount_disputed, 0) > 0))`;

/**
 * The due-date attempt. The attempts after it (2, 3, … in the order made) each charge one release
 * from a dispute (`dispute_id`). Rows of the earlier design's single released attempt (2, no
 * `dispute_id`, key `autopay:<invoiceId>:released`) stay valid: retried as fixed when STARTED, and an
 * invoice that has one gets no per-dispute attempts (its releases were charged by it).
 */
const DUE = 1;
const dueKey = (invoiceId: string) => `autopay:${invoiceId}`;
/** Release `seq` of a dispute: 0 its closing (the key the closing always had), n > 0 its n-th `dispute_release` while open. */
const releaseKey = (invoiceId: string, disputeId: string, seq: number) => `autopay:${invoiceId}:released:${disputeId}${seq > 0 ? `:${seq}` : ''}`;

/**
 * Every release of a dispute (`x`: its invoice, dispute, number and when): its closing (0), and each
 * amount it gave back while open (`dispute_release`, 1, 2, …).
 */
const RELEASES = `(select d.invoice_id, d.id as dispute_id, 0 as release_seq, coalesce(d.decided_at, d.updated_at) as released_at from dispute d where d.status not in ('OPEN', 'IN_REVIEW')
  union all select d.invoice_id, d.id, r.seq, r.released_at from dispute_release r join dispute d on d.id = r.dispute_id)`;

/**
 * Release `x` of a dispute of invoice `i` was made after the invoice's due-date attempt `t` and autopay
 * has not charged it yet (no attempt names it). One made before `t` was fixed is in `t`'s charge.
 */
const UNCHARGED_RELEASE = `x.invoice_id = i.id and x.released_at >= t.attempted_at
  and not exists (select 1 from autopay_attempt r where r.invoice_id = i.id and ((r.dispute_id = x.dispute_id and r.release_seq = x.release_seq) or (r.attempt > ${DUE} and r.dispute_id is null)))`;

/**
 * The first attempt (t) charged only what disputes left (SUCCEEDED with `amount_disputed`): dunning
 * waits while the disputes still cover what is owed (each release is charged to the card) and while a
 * release (a dispute closed, or giving back part of its amount) is not charged yet (the next pass makes its attempt). Once every release
 * has its attempt, what is still owed beyond the open disputes (a release declined, a refund) is dunned.
 */
const RELEASE_PENDING = `(t.state = 'SUCCEEDED' and coalesce(t.amount_disputed, 0) > 0
  and ((i.state = 'ON_HOLD' and i.total - i.amount_paid - i.amount_credited <= coalesce(i.amount_disputed, 0))
    or exists (select 1 from ${RELEASES} x where ${UNCHARGED_RELEASE})))`;

export async function runCollections(fork: () => Em, deps: CollectionsDeps, now: Date, opts: { limit?: number; warn?: (err: unknown, msg: string) => void } = {}): Promise<CollectionsOutcome> {
  const limit = opts.limit ?? 500;
  const warn = opts.warn ?? (() => undefined);
  const out: CollectionsOutcome = { autopaid: [], declined: [], dunningStarted: [], disputeWorkflowsStarted: [], disputeWorkflowsRestarted: [] };

  const due = await rows<{ id: string; billing_account_id: string; autopay_token: string | null }>(
    fork(),
    `select i.id, i.billing_account_id, a.autopay_token from invoice i
       join billing_account a on a.id = i.billing_account_id
       left join autopay_attempt t on t.invoice_id = i.id and t.attempt = ${DUE}
      where ${AUTOPAYABLE} and i.voided_at is null and i.due_date <= ? and (a.autopay_token is not null or a.autopay) and t.invoice_id is null
      order by i.due_date, i.id limit ?`,
    [now, limit],
  );
  // Releases from disputes since the first attempt charged only what they left: each, once.
  const releases = await rows<{ id: string; billing_account_id: string; autopay_token: string | null; dispute_id: string; release_seq: number }>(
    fork(),
    `select i.id, i.billing_account_id, a.autopay_token, x.dispute_id, x.release_seq from invoice i
       join billing_account a on a.id = i.billing_account_id
       join autopay_attempt t on t.invoice_id = i.id and t.attempt = ${DUE} and t.state = 'SUCCEEDED' and t.amount_disputed > 0
       join ${RELEASES} x on ${UNCHARGED_RELEASE}
      where i.voided_at is null and (a.autopay_token is not null or a.autopay)
      order by x.released_at, x.dispute_id, x.release_seq limit ?`,
    [limit],
  );
  // Attempts a pass fixed and did not finish (the provider's answer never recorded): retried as fixed.
  const started = await rows<{ id: string; billing_account_id: string; attempt: number }>(
    fork(),
    `select invoice_id as id, billing_account_id, attempt from autopay_attempt where state = 'STARTED' order by attempted_at, invoice_id, attempt limit ?`,
    [limit],
  );
  /** `begin` fixes the charge (STARTED) and answers its attempt's number, or null: nothing to charge now. */
  const charge = async (inv: { id: string; billing_account_id: string }, begin: () => Promise<number | null>) => {
    let attempt: number | null = null;
    try {
      attempt = await begin();
      if (attempt == null) return;
      const no = attempt;
      if (await fork().transactional((em) => finishAutopay(em as Em, inv.id, no, deps.payments, now))) out.autopaid.push(inv.id);
    } catch (error) {
      if (attempt != null && error instanceof DomainError && error.code === 'PAYMENT_DECLINED') {
        // Declined by the provider: the attempt's STARTED row exists (fixed by `begin`).
        await fork().transactional((em) => sql(em as Em)('autopay_attempt').where({ invoice_id: inv.id, attempt, state: 'STARTED' }).update({ state: 'DECLINED', failure_code: error.code }));
        out.declined.push(inv.id);
      } else {
        warn(error, `autopay of invoice ${inv.id} failed; the next pass tries again`);
      }
    }
  };
  const tokenOf = async (inv: { id: string; billing_account_id: string; autopay_token: string | null }) => {
    const token = inv.autopay_token ?? (deps.autopayTokens ? await deps.autopayTokens.tokenOf(inv.billing_account_id) : null);
    if (!token) warn(null, `invoice ${inv.id}: the account has autopay but no token could be found; dunning takes over`);
    return token;
  };
  for (const inv of started) await charge(inv, async () => Number(inv.attempt));
  for (const inv of due) {
    await charge(inv, async () => {
      const token = await tokenOf(inv);
      if (!token) {
        await fork().transactional((em) => sql(em as Em)('autopay_attempt').insert({ invoice_id: inv.id, attempt: DUE, billing_account_id: inv.billing_account_id, state: 'NO_TOKEN', attempted_at: now }).onConflict(['invoice_id', 'attempt']).ignore());
        return null;
      }
      return fork().transactional((em) => startAutopay(em as Em, inv.id, token, now));
    });
  }
  for (const inv of releases) {
    await charge(inv, async () => {
      // Nothing due (its amount credited, or still held by the other disputes): recorded without asking for a token.
      const release = { disputeId: inv.dispute_id, seq: Number(inv.release_seq) };
      if ((await fork().transactional((em) => startRelease(em as Em, inv.id, release, now))) !== 'DUE') return null;
      const token = await tokenOf(inv);
      const fixed = await fork().transactional((em) => startRelease(em as Em, inv.id, release, now, token));
      return typeof fixed === 'number' ? fixed : null;
    });
  }

  // 3 (before dunning, which needs its own starter). Open disputes whose workflow never started.
  if (deps.disputes) {
    for (const id of await disputesWithoutWorkflow(fork(), limit)) {
      try {
        await deps.disputes.start({ disputeId: id, policy: deps.disputePolicy ?? DEFAULT_DISPUTE_POLICY });
        await markWorkflowStarted(fork(), id, now);
        out.disputeWorkflowsStarted.push(id);
      } catch (error) {
        warn(error, `could not start the workflow of dispute ${id}; the next pass tries again`);
      }
    }
    // Open disputes whose workflow ended without closing them (a worker misconfigured, an
    // operator's terminate): nothing else would ever look at them. Its steps are idempotent
    // invoicing mutations (assess answers as stored, escalate is a max, a decision once), so the
    // next run repeats nothing; it counts its SLA from its own start.
    const policy = deps.disputePolicy ?? DEFAULT_DISPUTE_POLICY;
    const running = deps.disputes.running?.bind(deps.disputes);
    const olderThan = new Date(now.getTime() - (policy.hourMs ?? 3_600_000));
    for (const { id, run } of running ? await disputesToWatch(fork(), olderThan, Math.min(limit, DISPUTE_WATCH_BATCH)) : []) {
      try {
        if (await running!(id, run)) {
          await markWorkflowChecked(fork(), id, run, now);
          continue;
        }
        await deps.disputes.start({ disputeId: id, policy, run: run + 1 });
        await markWorkflowChecked(fork(), id, run + 1, now, true);
        out.disputeWorkflowsRestarted.push(id);
        warn(null, `dispute ${id} is open but its workflow run ${run} has ended; started run ${run + 1}`);
      } catch (error) {
        warn(error, `could not look at or restart the workflow of dispute ${id}; the next pass tries again`);
      }
    }
  }

  if (!deps.dunning) return out;
  const overdue = await rows<{ id: string; billing_account_id: string; due_date: Date; total: string; amount_paid: string; amount_credited: string; dunning_runs: number }>(
    fork(),
    `select i.id, i.billing_account_id, i.due_date, i.total, i.amount_paid, i.amount_credited, i.dunning_runs from invoice i
       join billing_account a on a.id = i.billing_account_id
       left join autopay_attempt t on t.invoice_id = i.id and t.attempt = ${DUE}
      where i.state in ${OPEN} and i.voided_at is null and i.due_date <= ? and i.dunning_started_at is null
        and i.total - i.amount_paid - i.amount_credited > 0
        and ((a.autopay_token is null and not a.autopay)
          or (t.invoice_id is not null and not exists (select 1 from autopay_attempt s where s.invoice_id = i.id and s.state = 'STARTED') and not ${RELEASE_PENDING}))
      order by i.due_date, i.id limit ?`,
    [now, limit],
  );
  for (const inv of overdue) {
    if (outstanding({ total: String(inv.total), amountPaid: String(inv.amount_paid), amountCredited: String(inv.amount_credited) }).lte(0)) continue;
    try {
      const run = Number(inv.dunning_runs) + 1;
      const dunning = (await deps.dunning.start({ invoiceId: inv.id, billingAccountId: inv.billing_account_id, dueDate: new Date(inv.due_date).toISOString(), policy: deps.policy, run })) ?? run;
      // The previous run is still finishing (it was told to look again): not marked started, so a
      // later pass starts this run once that one has closed, if the invoice still owes. Marked, the
      // invoice was left undunned when the previous run had already decided it was paid.
      if (dunning < run) continue;
      await sql(fork())('invoice').where({ id: inv.id }).whereNull('dunning_started_at').update({ dunning_started_at: now, dunning_runs: dunning });
      out.dunningStarted.push(inv.id);
    } catch (error) {
      warn(error, `could not start dunning for invoice ${inv.id}; the next pass tries again`);
    }
  }
  return out;
}

/**
 * What the invoice's autopay may charge now: what it owes, less what its disputes hold when it is held
 * after it was issued (the disputed part waits for their decisions); null for an invoice neither
 * issued and unpaid (SENT, PARTIALLY_PAID) nor held after it was issued (a draft, settled, voided).
 */
function chargeable(invoice: any): { owed: Decimal; disputed: Decimal; held: boolean } | null {
  const held = invoice.state === 'ON_HOLD' && ['SENT', 'PARTIALLY_PAID'].includes(invoice.held_from);
  if (!held && !['SENT', 'PARTIALLY_PAID'].includes(invoice.state)) return null;
  const disputed = held ? dec(String(invoice.amount_disputed ?? '0')) : dec('0');
  return { owed: outstanding({ total: String(invoice.total), amountPaid: String(invoice.amount_paid), amountCredited: String(invoice.amount_credited) }).minus(disputed), disputed, held };
}

/** The STARTED row of a charge of `amount` (what `disputed` left), keyed `key`. */
function fixedCharge(invoice: any, amount: Decimal, disputed: Decimal, token: string, key: string) {
  const scale = minorUnits(invoice.currency);
  return { state: 'STARTED', amount: amount.toFixed(scale), currency: invoice.currency, payment_method_token: token, idempotency_key: key, amount_disputed: disputed.gt(0) ? disputed.toFixed(scale) : null };
}

/**
 * What closing dispute `d` made due again on its invoice: its amount (what it held when it closed) less
 * what its decision credited on that invoice (a credit note: accepted, in part or whole). Rejected or
 * withdrawn, all of it; accepted by a re-rate correction credited on the next invoice (no credit note
 * here), all of it too. Nothing for a dispute that is not closed.
 */
function released(d: any): Decimal {
  if (!d || ['OPEN', 'IN_REVIEW'].includes(d.status)) return dec('0');
  const credited = d.credit_note_id ? dec(String(d.credited_amount ?? '0')) : dec('0');
  return dec(String(d.amount)).minus(credited);
}

/**
 * Fixes the invoice's due-date autopay charge (what it owes now, less money refunded on or after its due
 * date) in a STARTED attempt 1, committed before the provider is asked; its number, or null when nothing
 * is owed (NOTHING_OWED), all it owes was refunded since its due date (REOPENED_LATE) or another
 * pass got there first. An invoice held for a dispute is charged what its disputes leave, and keeps
 * the disputed amount (`amount_disputed`): each dispute's release is charged by an attempt of its own.
 */
async function startAutopay(em: Em, invoiceId: string, token: string, now: Date): Promise<number | null> {
  const k = sql(em);
  const invoice = await k('invoice').where({ id: invoiceId }).forUpdate().first();
  const attempt = { invoice_id: invoiceId, attempt: DUE, billing_account_id: invoice.billing_account_id, attempted_at: now };
  const open = chargeable(invoice);
  if (!open || open.owed.lte(0)) {
    // Everything still owed is disputed: no attempt is used up, the invoice is charged once released.
    if (open?.held) return null;
    await k('autopay_attempt').insert({ ...attempt, state: 'NOTHING_OWED' }).onConflict(['invoice_id', 'attempt']).ignore();
    return null;
  }
  // Never the money refunded on or after the due date (a pass running behind the refund): that is dunned.
  const { amount } = await dueDateCharge(em, invoice, open.owed);
  if (!amount.gt(0)) {
    await k('autopay_attempt').insert({ ...attempt, state: 'REOPENED_LATE' }).onConflict(['invoice_id', 'attempt']).ignore();
    return null;
  }
  const made = await k('autopay_attempt').insert({ ...attempt, ...fixedCharge(invoice, amount, open.disputed, token, dueKey(invoiceId)) }).onConflict(['invoice_id', 'attempt']).ignore().returning('invoice_id');
  return made.length > 0 ? DUE : null;
}

/**
 * The attempt for release `seq` of dispute `disputeId` from the invoice (made after the due-date attempt
 * charged what the disputes left): what that release gave back (its closing, 0: `released`; a part
 * given back while open, n: that `dispute_release`'s amount), capped by what is due now (owed less what
 * the disputes still hold), charged once. Under the invoice's lock: null when the
 * release has its attempt already or another attempt of the invoice is STARTED (finished first, by a
 * later pass: this charge is fixed against what it leaves, so two releases never both charge the same
 * money); nothing released or nothing due, recorded NOTHING_OWED. Each attempt carries its own
 * dispute's release even when several closed before one pass (before, the first charged what all of
 * them released and the others nothing).
 * Otherwise, without `token` (undefined) 'DUE' and nothing written; with no token (null) NO_TOKEN
 * (dunning takes over); with one, the STARTED charge (`releaseKey`) and its attempt's number, the invoice's next.
 */
async function startRelease(em: Em, invoiceId: string, { disputeId, seq }: { disputeId: string; seq: number }, now: Date, token?: string | null): Promise<number | 'DUE' | null> {
  const k = sql(em);
  const invoice = await k('invoice').where({ id: invoiceId }).forUpdate().first();
  const mine = await k('autopay_attempt').where({ invoice_id: invoiceId }).andWhere((q) => q.where({ dispute_id: disputeId, release_seq: seq }).orWhere({ state: 'STARTED' })).first('attempt');
  if (mine) return null;
  const [{ last }] = await rows<{ last: number }>(em, 'select coalesce(max(attempt), 0) as last from autopay_attempt where invoice_id = ?', [invoiceId]);
  const attempt = { invoice_id: invoiceId, attempt: Number(last) + 1, dispute_id: disputeId, release_seq: seq, billing_account_id: invoice.billing_account_id, attempted_at: now };
  const open = invoice.voided_at ? null : chargeable(invoice);
  // Its own release, never more than is due now (several releases together: never more than owed).
  let own = dec('0');
  if (open && seq > 0) own = dec(String((await k('dispute_release').where({ dispute_id: disputeId, seq }).first('amount'))?.amount ?? '0'));
  else if (open) own = released(await k('dispute').where({ id: disputeId }).first());
  const amount = open && own.gt(open.owed) ? open.owed : own;
  let row: Record<string, unknown>;
  if (!open || !amount.gt(0)) row = { ...attempt, state: 'NOTHING_OWED' };
  else if (token === undefined) return 'DUE';
  else if (token === null) row = { ...attempt, state: 'NO_TOKEN' };
  else row = { ...attempt, ...fixedCharge(invoice, amount, open.disputed, token, releaseKey(invoiceId, disputeId, seq)) };
  await k('autopay_attempt').insert(row);
  return row.state === 'STARTED' ? attempt.attempt : null;
}

/**
 * Asks the provider for the attempt's fixed charge (the same amount, token and key on every try: it
 * answers a capture it made already) and records the payment; what the invoice no longer owes of it
 * is kept as account credit. False when the attempt is no longer STARTED (another pass finished it).
 */
async function finishAutopay(em: Em, invoiceId: string, attemptNo: number, provider: PaymentProvider, now: Date): Promise<boolean> {
  // The credit lock before the attempt's and the invoice's rows, as recordPayment takes it for an overpayment.
  await lockCreditOfInvoice(em, invoiceId);
  const k = sql(em);
  const attempt = await k('autopay_attempt').where({ invoice_id: invoiceId, attempt: attemptNo, state: 'STARTED' }).forUpdate().first();
  if (!attempt) return false;
  const paymentId = await recordPayment(
    em,
    { invoiceId, channel: 'CARD', amount: { amount: dec(String(attempt.amount)).toFixed(minorUnits(attempt.currency)), currency: attempt.currency }, idempotencyKey: attempt.idempotency_key, paymentMethodToken: attempt.payment_method_token, allowOverpayment: true, now },
    provider,
  );
  await k('autopay_attempt').where({ invoice_id: invoiceId, attempt: attemptNo }).update({ state: 'SUCCEEDED', payment_id: paymentId });
  return true;
}

/** The service's due-date job: one pass every `intervalMs` (and on `nudge`). */
export function startCollectionsRunner(run: () => Promise<unknown>, warn: (err: unknown, msg: string) => void, intervalMs: number) {
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let wake: () => void = () => undefined;
  const loop = (async () => {
    while (running) {
      try {
        await run();
      } catch (error) {
        warn(error, 'due-date job pass failed; the next pass tries again');
      }
      if (running) await new Promise<void>((resolve) => ((wake = resolve), (timer = setTimeout(resolve, intervalMs))));
    }
  })();
  return {
    nudge: () => wake(),
    stop: async () => {
      running = false;
      if (timer) clearTimeout(timer);
      wake();
      await loop;
    },
  };
}
