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
//     dispute leaves) on the due date. Released with money still owed (the dispute rejected, or
//     accepted in part), the rest is charged by the invoice's second attempt (`attempt` 2, key
//     `autopay:<invoiceId>:released`), once, the same way; dunning waits for it as for the first.
//  2. Dunning: an overdue invoice that still owes money (autopay, if any, tried already; its rest
//     after a dispute, if the first attempt left it to the dispute, too) gets
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
import { DomainError, dec, minorUnits } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import type { PaymentProvider } from '../adapters/payment-provider';
import { outstanding } from '../domain/lifecycle';
import type { DunningPolicy, DunningStarter } from '../ports/dunning';
import type { AutopayTokens } from '../ports/autopay-tokens';
import type { DisputePolicy, DisputeStarter } from '../ports/disputes';
import { disputesToWatch, disputesWithoutWorkflow, markWorkflowChecked, markWorkflowStarted } from './disputes';
import { DEFAULT_DISPUTE_POLICY } from '../domain/disputes';
import { lockCreditOfInvoice } from './credit';
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

/** The due-date attempt, and the one for the rest of an invoice its first attempt left to a dispute. */
const DUE = 1;
const RELEASED = 2;
type Attempt = typeof DUE | typeof RELEASED;
const autopayKey = (invoiceId: string, attempt: Attempt) => (attempt === DUE ? `autopay:${invoiceId}` : `autopay:${invoiceId}:released`);

/**
 * The first attempt (t) charged only what a dispute left (SUCCEEDED with `amount_disputed`) and the
 * second (r) is not made or not finished: dunning waits while the dispute still covers what is owed
 * (released, the job charges the rest to the card) and while the invoice is released (the next pass
 * makes the second attempt). An invoice held again owing more than is disputed (a refund) is dunned.
 */
const RELEASED_PENDING = `(t.state = 'SUCCEEDED' and coalesce(t.amount_disputed, 0) > 0 and (r.invoice_id is null or r.state = 'STARTED')
  and (i.state <> 'ON_HOLD' or i.total - i.amount_paid - i.amount_credited <= coalesce(i.amount_disputed, 0)))`;

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
  // Released from a dispute with money still owed, the first attempt having charged only what the dispute left.
  const released = await rows<{ id: string; billing_account_id: string; autopay_token: string | null }>(
    fork(),
    `select i.id, i.billing_account_id, a.autopay_token from invoice i
       join billing_account a on a.id = i.billing_account_id
       join autopay_attempt t on t.invoice_id = i.id and t.attempt = ${DUE} and t.state = 'SUCCEEDED' and t.amount_disputed > 0
       left join autopay_attempt r on r.invoice_id = i.id and r.attempt = ${RELEASED}
      where i.state in ('SENT', 'PARTIALLY_PAID') and i.voided_at is null and i.total - i.amount_paid - i.amount_credited > 0
        and (a.autopay_token is not null or a.autopay) and r.invoice_id is null
      order by i.due_date, i.id limit ?`,
    [limit],
  );
  const noToken = (inv: { id: string; billing_account_id: string }, attempt: Attempt) =>
    fork().transactional((em) => sql(em as Em)('autopay_attempt').insert({ invoice_id: inv.id, attempt, billing_account_id: inv.billing_account_id, state: 'NO_TOKEN', attempted_at: now }).onConflict(['invoice_id', 'attempt']).ignore());
  // Attempts a pass fixed and did not finish (the provider's answer never recorded): retried as fixed.
  const started = await rows<{ id: string; billing_account_id: string; attempt: number }>(
    fork(),
    `select invoice_id as id, billing_account_id, attempt from autopay_attempt where state = 'STARTED' order by attempted_at, invoice_id, attempt limit ?`,
    [limit],
  );
  const charge = async (inv: { id: string; billing_account_id: string }, attempt: Attempt, begin: () => Promise<boolean>) => {
    try {
      if (!(await begin())) return;
      if (await fork().transactional((em) => finishAutopay(em as Em, inv.id, attempt, deps.payments, now))) out.autopaid.push(inv.id);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'PAYMENT_DECLINED') {
        await fork().transactional((em) =>
          sql(em as Em)('autopay_attempt')
            .insert({ invoice_id: inv.id, attempt, billing_account_id: inv.billing_account_id, state: 'DECLINED', failure_code: error.code, attempted_at: now })
            .onConflict(['invoice_id', 'attempt'])
            .merge({ state: 'DECLINED', failure_code: error.code })
            .where('autopay_attempt.state', 'STARTED'),
        );
        out.declined.push(inv.id);
      } else {
        warn(error, `autopay of invoice ${inv.id} failed; the next pass tries again`);
      }
    }
  };
  for (const inv of started) await charge(inv, inv.attempt === RELEASED ? RELEASED : DUE, async () => true);
  const attempts: [typeof due, Attempt][] = [
    [due, DUE],
    [released, RELEASED],
  ];
  for (const [invoices, attempt] of attempts) {
    for (const inv of invoices) {
      await charge(inv, attempt, async () => {
        const token = inv.autopay_token ?? (deps.autopayTokens ? await deps.autopayTokens.tokenOf(inv.billing_account_id) : null);
        if (!token) {
          await noToken(inv, attempt);
          warn(null, `invoice ${inv.id}: the account has autopay but no token could be found; dunning takes over`);
          return false;
        }
        return fork().transactional((em) => startAutopay(em as Em, inv.id, attempt, token, now));
      });
    }
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
       left join autopay_attempt r on r.invoice_id = i.id and r.attempt = ${RELEASED}
      where i.state in ${OPEN} and i.voided_at is null and i.due_date <= ? and i.dunning_started_at is null
        and i.total - i.amount_paid - i.amount_credited > 0
        and ((a.autopay_token is null and not a.autopay) or (t.invoice_id is not null and t.state <> 'STARTED' and not ${RELEASED_PENDING}))
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
 * Fixes the invoice's autopay charge (what it owes now) in a STARTED attempt, committed before the
 * provider is asked; false when nothing is owed (NOTHING_OWED) or another pass got there first.
 * The due-date attempt of an invoice held for a dispute charges what the dispute leaves, and keeps
 * the disputed amount (`amount_disputed`); the released attempt charges what is owed once it is released.
 */
async function startAutopay(em: Em, invoiceId: string, attemptNo: Attempt, token: string, now: Date): Promise<boolean> {
  const k = sql(em);
  const invoice = await k('invoice').where({ id: invoiceId }).forUpdate().first();
  const attempt = { invoice_id: invoiceId, attempt: attemptNo, billing_account_id: invoice.billing_account_id, attempted_at: now };
  // Held for a dispute after it was issued: the undisputed part (the disputed one waits for the decision).
  const held = invoice.state === 'ON_HOLD' && ['SENT', 'PARTIALLY_PAID'].includes(invoice.held_from);
  // Held (again) meanwhile, the released attempt waits for the invoice's release: nothing used up.
  if (attemptNo === RELEASED && invoice.state === 'ON_HOLD') return false;
  const disputed = held ? dec(String(invoice.amount_disputed ?? '0')) : dec('0');
  const owed = outstanding({ total: String(invoice.total), amountPaid: String(invoice.amount_paid), amountCredited: String(invoice.amount_credited) }).minus(disputed);
  if (owed.lte(0) || !(held || ['SENT', 'PARTIALLY_PAID'].includes(invoice.state))) {
    // Everything still owed is disputed: no attempt is used up, the invoice is charged once released.
    if (held) return false;
    await k('autopay_attempt').insert({ ...attempt, state: 'NOTHING_OWED' }).onConflict(['invoice_id', 'attempt']).ignore();
    return false;
  }
  const amount = dec(owed).toFixed(minorUnits(invoice.currency));
  const made = await k('autopay_attempt')
    .insert({
      ...attempt,
      state: 'STARTED',
      amount,
      currency: invoice.currency,
      payment_method_token: token,
      idempotency_key: autopayKey(invoiceId, attemptNo),
      amount_disputed: disputed.gt(0) ? disputed.toFixed(minorUnits(invoice.currency)) : null,
    })
    .onConflict(['invoice_id', 'attempt'])
    .ignore()
    .returning('invoice_id');
  return made.length > 0;
}

/**
 * Asks the provider for the attempt's fixed charge (the same amount, token and key on every try: it
 * answers a capture it made already) and records the payment; what the invoice no longer owes of it
 * is kept as account credit. False when the attempt is no longer STARTED (another pass finished it).
 */
async function finishAutopay(em: Em, invoiceId: string, attemptNo: Attempt, provider: PaymentProvider, now: Date): Promise<boolean> {
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
