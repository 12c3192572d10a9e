import type DataLoader from 'dataloader';
import { approvalActor, badInput, dec, decodeCursor, minorUnits, notFound, pageSize, scalarResolvers, toConnection } from '@ledgerline/contracts';
import { retryScopeOf, transactionalRetrying, type Em, type RequestContext } from '@ledgerline/platform';
import { BillingAccount, CreditNote, CreditNoteLine, Dispute, Invoice, InvoiceLine, Payment, Receipt, Refund } from '../persistence/entities';
import type { InvoicingDeps } from '../deps';
import { outstanding } from '../domain/lifecycle';
import { accountCredit, addDiscount, addOneOffCharge, recordCharges, recordSubscription, registerBillingAccount, registerPlanVersion, upsertTaxRule } from '../application/read-model';
import { billRunId, billRunView, billSetAsideAccounts, closeBillingPeriod, previewNextInvoice, processBillRunBatch, startBillRun } from '../application/bill-run';
import { setAsideAccounts } from '../application/bill-run-set-aside';
import { CLOSURE_NOTE_KEY_PREFIX } from '../application/closure-credit';
import { dunnedInvoicesPaidFromCredit } from '../application/credit';
import { issueInvoice, regenerateInvoice, resolveDispute, voidInvoice } from '../application/invoice-lifecycle';
import { disputeInvoice } from '../application/dispute-invoice';
import { STAFF_HOLD_KEY_PREFIX, decidedByFor } from '../domain/disputes';
import { INTERNAL_PAYMENT_KEY_PREFIXES, issueCreditNote, issuePaymentReceipt, NOTE_REFUND_KEY_PREFIXES, recordPayment, refundPayment } from '../application/payments';
import { waiveOneOffCharge, WAIVER_NOTE_KEY_PREFIX } from '../application/waive-one-off-charge';
import { billChargesHeldForAccount } from '../application/wallet-charge-refused';
import { recordDunningNotice } from '../application/dunning-notices';
import { renderInvoiceHtml, renderInvoicePdf, type InvoiceDocumentModel } from '../documents/render';
import { runCollections } from '../application/collections';
import { assessDispute, decideDispute, disputeWorkflowRuns, escalateDispute, markWorkflowStarted, openDispute, withdrawDispute } from '../application/disputes';
import { guardOperations, isStaff, listableAccounts, requireAccount, requireRow } from '../application/authorization';
import { applicationsOf, applyUnappliedPayment, candidatesOf, listUnappliedPayments, receiveBankTransfer, refundsOf, refundUnappliedPayment, type UnappliedApplicationRow, type UnappliedPaymentRow, type UnappliedRefundRow, type UnappliedStatus } from '../application/unapplied-payments';
import { approveRequest, expiresAt, gateCreditNote, gateDisputeAccept, gateRefund, listApprovalRequests, rejectRequest, type ApprovalRow, type ApprovalStatus } from '../application/approvals';
import { agingAccountCredit, agingAccounts, agingBuckets, type AgingAccountRow, type AgingQuery } from '../application/receivables-aging';
import { agingAsOf, agingBuckets as agingBucketDefs, agingCurrency, type AgingAccountOrder } from '../domain/aging';


/**
 * The keys invoicing itself pays with (autopay on the due date, account credit applied, bank statement
 * lines and unapplied payments applied; one key space for all accounts, payments.ts): a caller that
 * took one first would answer those payments with its own (an autopay never charged, a statement line never paid).
 */
const RESERVED_KEY_PREFIXES = INTERNAL_PAYMENT_KEY_PREFIXES;
function callerKey(key: unknown): void {
  if (typeof key === 'string' && RESERVED_KEY_PREFIXES.some((p) => key.startsWith(p))) {
    throw badInput('input.idempotencyKey', `Idempotency keys starting with ${RESERVED_KEY_PREFIXES.join(' or ')} are reserved for invoicing's own payments`, 'IDEMPOTENCY_KEY_RESERVED');
  }
}

/** The keys of staff holds (disputeInvoice:<invoiceId>:<n>): a customer who took one first would be answered with a staff hold's replay or refusal. */
function staffHoldKey(key: unknown): void {
  if (typeof key === 'string' && key.startsWith(STAFF_HOLD_KEY_PREFIX)) throw badInput('input.idempotencyKey', `Idempotency keys starting with ${STAFF_HOLD_KEY_PREFIX} are reserved for disputeInvoice`, 'IDEMPOTENCY_KEY_RESERVED');
}

/** A REFUND credit note's refunds are keyed by the note (noteRefundKey): a caller's refund may not take such a key. */
function refundKey(key: unknown): void {
  if (typeof key === 'string' && NOTE_REFUND_KEY_PREFIXES.some((p) => key.startsWith(p))) {
    throw badInput('input.idempotencyKey', `Idempotency keys starting with ${NOTE_REFUND_KEY_PREFIXES.join(' or ')} are reserved for the refunds of REFUND credit notes`, 'IDEMPOTENCY_KEY_RESERVED');
  }
}
/** The key of a dispute's credit note (`dispute:<id>`): a caller that took one first would answer the decision with its own note. */
function creditNoteKey(key: unknown): void {
  if (typeof key === 'string' && key.startsWith('dispute:')) throw badInput('input.idempotencyKey', 'Idempotency keys starting with dispute: are reserved for the credit notes of accepted disputes', 'IDEMPOTENCY_KEY_RESERVED');
  if (typeof key === 'string' && key.startsWith(WAIVER_NOTE_KEY_PREFIX)) throw badInput('input.idempotencyKey', `Idempotency keys starting with ${WAIVER_NOTE_KEY_PREFIX} are reserved for the credit notes of waived one-off charges`, 'IDEMPOTENCY_KEY_RESERVED');
  if (typeof key === 'string' && key.startsWith(CLOSURE_NOTE_KEY_PREFIX)) throw badInput('input.idempotencyKey', `Idempotency keys starting with ${CLOSURE_NOTE_KEY_PREFIX} are reserved for the credit notes of fees billed after an account's closure`, 'IDEMPOTENCY_KEY_RESERVED');
}

export interface InvoicingContext extends RequestContext {
  deps: InvoicingDeps;
  nudgeBillRuns: () => void;
  nudgeCollections: () => void;
  invoices: DataLoader<string, Invoice | null>;
  invoicesOfAccount: DataLoader<string, Invoice[]>;
  linesOfInvoice: DataLoader<string, InvoiceLine[]>;
  paymentsOfInvoice: DataLoader<string, Payment[]>;
  refundsOfPayment: DataLoader<string, Refund[]>;
  creditNotesOfInvoice: DataLoader<string, CreditNote[]>;
  linesOfCreditNote: DataLoader<string, CreditNoteLine[]>;
  disputesOfInvoice: DataLoader<string, Dispute[]>;
  pendingApprovalsOfDispute: DataLoader<string, ApprovalRow[]>;
}

type Args<T> = { input: T };

/**
 * Runs a use case in one transaction, run again if PostgreSQL picks it as a deadlock or serialization
 * victim: every use case here writes only inside it, queues its workflow signals with afterCommit (a
 * failed attempt's are dropped with its rollback), and calls the payment provider only with the
 * request's idempotency key (a second attempt gets the first capture or refund back, as a caller's
 * own retry after a failed commit does); the catalog reads that pricing makes change nothing.
 */
async function mutate<T>(ctx: InvoicingContext, work: (em: Em, now: Date) => Promise<T>, now: Date = ctx.runtime.clock.now()): Promise<T> {
  const result = await transactionalRetrying(ctx.em, retryScopeOf(ctx), (em) => work(em, now));
  ctx.runtime.relay.nudge();
  return result;
}

/** After a payment or a dispute change: the invoice's dunning workflow (if any) looks again at once. */
async function pokeDunning(ctx: InvoicingContext, invoiceId: string | null | undefined, what: 'paymentRecorded' | 'disputeChanged'): Promise<void> {
  if (!invoiceId || !ctx.deps.dunning) return;
  const invoice = await ctx.em.fork().findOne(Invoice, { id: invoiceId });
  if (!invoice?.dunningStartedAt) return;
  await ctx.deps.dunning.poke(invoiceId, what, invoice.dunningRuns).catch((err: unknown) => ctx.runtime.logger.warn({ err, invoiceId }, 'could not signal the dunning workflow; it looks again on its own'));
}

/**
 * After a mutation that may have brought account credit (which pays the account's open invoices by
 * itself): the invoices it paid at `now` whose dunning has started look again, as after a payment.
 */
async function pokeCreditPaid(ctx: InvoicingContext, billingAccountId: string | null | undefined, now: Date, alreadyTold: string[] = []): Promise<void> {
  if (!billingAccountId || !ctx.deps.dunning) return;
  for (const { id } of await dunnedInvoicesPaidFromCredit(ctx.em.fork() as Em, [billingAccountId], now, alreadyTold)) await pokeDunning(ctx, id, 'paymentRecorded');
}

/** After a dispute is opened: its workflow starts (a failed start is made by the due-date job's next pass). */
async function startDisputeWorkflow(ctx: InvoicingContext, disputeId: string): Promise<void> {
  if (!ctx.deps.disputes) return;
  try {
    await ctx.deps.disputes.start({ disputeId, policy: ctx.deps.disputePolicy });
    await markWorkflowStarted(ctx.em.fork() as Em, disputeId, ctx.runtime.clock.now());
  } catch (err) {
    ctx.runtime.logger.warn({ err, disputeId }, 'could not start the dispute workflow; the due-date job starts it');
  }
}

/** After a dispute was closed outside its workflow: its newest workflow run looks again (signal disputeDecided). Best effort. */
async function pokeDisputes(ctx: InvoicingContext, disputeIds: string[]): Promise<void> {
  if (!ctx.deps.disputes || disputeIds.length === 0) return;
  const runs = await disputeWorkflowRuns(ctx.em.fork() as Em, disputeIds);
  for (const disputeId of disputeIds) {
    await ctx.deps.disputes.poke(disputeId, runs.get(disputeId) ?? 1).catch((err: unknown) => ctx.runtime.logger.warn({ err, disputeId }, 'could not signal the dispute workflow; it looks again at its next deadline'));
  }
}

/**
 * After a dispute was accepted: its credit note may have closed other open disputes of the invoice
 * (takeDisputesCoveredByCreditNote, ACCEPTED with that note): their workflows look again too.
 */
async function pokeDisputesClosedByNoteOf(ctx: InvoicingContext, disputeId: string): Promise<void> {
  if (!ctx.deps.disputes) return;
  const decided = await ctx.em.fork().findOne(Dispute, { id: disputeId });
  if (!decided?.creditNoteId) return;
  const covered = await ctx.em.fork().find(Dispute, { creditNoteId: decided.creditNoteId, decidedBy: { $like: 'creditNote:%' }, id: { $ne: disputeId } });
  await pokeDisputes(ctx, covered.map((d) => d.id));
}

/** After a dispute's amount left the hold (and a credit note may have brought account credit): dunning looks again. */
async function afterDisputeClosed(ctx: InvoicingContext, r: { invoiceId: string; billingAccountId: string }, at: Date): Promise<void> {
  await pokeDunning(ctx, r.invoiceId, 'disputeChanged');
  await pokeCreditPaid(ctx, r.billingAccountId, at, [r.invoiceId]);
}

/** A request that moved nothing (rejected, or approved and refused): it and its subject as they are. */
async function failedRequestPayload(ctx: InvoicingContext, row: ApprovalRow) {
  return { approvalRequest: row, ...(row.kind === 'DISPUTE_ACCEPT' ? await disputePayload(ctx, row.subject_id) : {}), ...(row.kind === 'REFUND' ? { payment: await ctx.em.fork().findOne(Payment, { id: row.subject_id }) } : {}) };
}

/** After a credit note was issued (at once, or on approval): dunning, the disputes it covered, the credit it brought. */
async function afterCreditNote(ctx: InvoicingContext, id: string, at: Date) {
  const creditNote = await ctx.em.fork().findOneOrFail(CreditNote, { id });
  // A REFUND note's card refund refused after another went out: kept as account credit; staff are told (a replay tells it again).
  for (const r of creditNote.refundsRefused ?? []) {
    ctx.runtime.logger.warn({ creditNoteId: id, number: creditNote.number, billingAccountId: creditNote.billingAccountId, paymentId: r.paymentId, amount: r.amount, currency: creditNote.currency, code: r.code }, 'the payment provider refused a refund of this REFUND credit note after another of its refunds went out; that part is kept as the customer\'s account credit');
  }
  // The note cleared or reduced what its invoice owes: its dunning looks again, as after a payment.
  await pokeDunning(ctx, creditNote.invoiceId, 'paymentRecorded');
  // Disputes it covered in full were closed (ACCEPTED with this note): their workflows look again.
  const covered = await ctx.em.fork().find(Dispute, { creditNoteId: id, decidedBy: { $like: 'creditNote:%' } });
  if (covered.length > 0) {
    await pokeDunning(ctx, creditNote.invoiceId, 'disputeChanged');
    await pokeDisputes(ctx, covered.map((d) => d.id));
  }
  await pokeCreditPaid(ctx, creditNote.billingAccountId, at, [creditNote.invoiceId]);
  return { creditNote, invoice: await fresh(ctx, creditNote.invoiceId) };
}

/** After a dispute was decided (at once, or an ACCEPT on approval): dunning, credit, its workflow and those of disputes its note closed. */
async function afterDisputeDecided(ctx: InvoicingContext, r: { invoiceId: string; billingAccountId: string }, disputeId: string, at: Date): Promise<void> {
  await afterDisputeClosed(ctx, r, at);
  await pokeDisputes(ctx, [disputeId]);
  await pokeDisputesClosedByNoteOf(ctx, disputeId);
}

/** After a bank transfer paid an invoice (a statement line, an unapplied payment applied): dunning and credit as after recordPayment. */
async function afterPayment(ctx: InvoicingContext, paymentId: string, at: Date) {
  const payment = await ctx.em.fork().findOneOrFail(Payment, { id: paymentId });
  await pokeDunning(ctx, payment.invoiceId, 'paymentRecorded');
  await pokeCreditPaid(ctx, payment.billingAccountId, at);
  return { payment, invoice: payment.invoiceId ? await fresh(ctx, payment.invoiceId) : null };
}

/** A payment and its invoice as they are (no dunning poke). */
async function paymentView(ctx: InvoicingContext, paymentId: string) {
  const payment = await ctx.em.fork().findOneOrFail(Payment, { id: paymentId });
  return { payment, invoice: payment.invoiceId ? await fresh(ctx, payment.invoiceId) : null };
}

const disputePayload = async (ctx: InvoicingContext, id: string) => ({ dispute: await ctx.em.fork().findOneOrFail(Dispute, { id }) });

const m = (amount: string, currency: string) => ({ amount: dec(String(amount)).toFixed(), currency });
const fresh = async (ctx: InvoicingContext, id: string) => ctx.em.fork().findOne(Invoice, { id });

async function page<T extends { id: string }>(ctx: InvoicingContext, entity: any, where: Record<string, unknown>, args: { first?: number | null; after?: string | null }) {
  const limit = pageSize(args);
  const filter = args.after ? { ...where, id: { $lt: decodeCursor(args.after) } } : where;
  const rows = (await ctx.em.find(entity, filter as never, { orderBy: { id: 'desc' } as never, limit: limit + 1 })) as T[];
  return toConnection(rows, limit, (r) => r.id, Boolean(args.after));
}

// Every Query and Mutation field is checked first by its rule in OPERATION_RULES (guardOperations,
// the matrix at the top of src/application/authorization.ts); rows and entities are checked here.
export const resolvers = guardOperations({
  ...scalarResolvers,
  Query: {
    invoice: async (_: unknown, a: { id: string }, ctx: InvoicingContext) => requireRow(ctx.em, ctx.caller, await ctx.invoices.load(a.id), 'read this invoice'),
    invoices: async (_: unknown, a: { billingAccountId?: string; state?: string; first?: number; after?: string }, ctx: InvoicingContext) => {
      const accounts = await listableAccounts(ctx.em, ctx.caller, a.billingAccountId, 'read the invoices of this account');
      return page(ctx, Invoice, { ...(accounts ? { billingAccountId: { $in: accounts } } : {}), ...(a.state ? { state: a.state } : {}) }, a);
    },
    payments: (_: unknown, a: { billingAccountId: string; first?: number; after?: string }, ctx: InvoicingContext) => page(ctx, Payment, { billingAccountId: a.billingAccountId }, a),
    creditNotes: (_: unknown, a: { billingAccountId: string; first?: number; after?: string }, ctx: InvoicingContext) => page(ctx, CreditNote, { billingAccountId: a.billingAccountId }, a),
    previewNextInvoice: async (_: unknown, a: { billingAccountId: string }, ctx: InvoicingContext) => {
      const account = await ctx.em.findOne(BillingAccount, { id: a.billingAccountId });
      if (!account) throw notFound('BillingAccount', a.billingAccountId, 'billingAccountId');
      const p = await ctx.em.transactional((em) => previewNextInvoice(em as Em, a.billingAccountId, ctx.deps, ctx.runtime.clock.now()));
      const c = p.invoice.currency;
      return { billingAccountId: a.billingAccountId, periodStart: p.periodStart, periodEnd: p.periodEnd, lines: p.invoice.lines, netTotal: m(p.invoice.netTotal, c), taxTotal: m(p.invoice.taxTotal, c), total: m(p.invoice.grossTotal, c) };
    },
    billRun: (_: unknown, a: { id?: string; cycleDate?: string }, ctx: InvoicingContext) => billRunView(ctx.em, a.id ?? billRunId(a.cycleDate ?? '')),
    dispute: async (_: unknown, a: { id: string }, ctx: InvoicingContext) => requireRow(ctx.em, ctx.caller, await ctx.em.findOne(Dispute, { id: a.id }), 'read this dispute'),
    disputes: async (_: unknown, a: { filter?: { status?: string | null; billingAccountId?: string | null } | null; first?: number; after?: string }, ctx: InvoicingContext) => {
      const accounts = await listableAccounts(ctx.em, ctx.caller, a.filter?.billingAccountId, 'read these disputes');
      return page(ctx, Dispute, { ...(a.filter?.status ? { status: a.filter.status } : {}), ...(accounts ? { billingAccountId: { $in: accounts } } : {}) }, a);
    },
    approvalRequests: (_: unknown, a: { status?: ApprovalStatus | null; first?: number; after?: string }, ctx: InvoicingContext) => listApprovalRequests(ctx.em, a),
    unappliedPayments: (_: unknown, a: { filter?: { status?: UnappliedStatus | null } | null; first?: number; after?: string }, ctx: InvoicingContext) => listUnappliedPayments(ctx.em, a),
    receivablesAging: (_: unknown, a: { asOf?: Date | null; currency: string; buckets?: number[] | null }, ctx: InvoicingContext): AgingReport => ({
      query: { currency: agingCurrency(a.currency), buckets: agingBucketDefs(a.buckets), asOf: agingAsOf(a.asOf, ctx.runtime.clock.now()) },
    }),
  },
  Mutation: {
    recordPayment: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      callerKey(a.input?.idempotencyKey);
      const at = ctx.runtime.clock.now();
      const id = await mutate(ctx, (em, now) => recordPayment(em, { ...a.input, now }, ctx.deps.payments), at);
      const payment = await ctx.em.fork().findOneOrFail(Payment, { id });
      await pokeDunning(ctx, payment.invoiceId, 'paymentRecorded');
      await pokeCreditPaid(ctx, payment.billingAccountId, at);
      return { payment, invoice: payment.invoiceId ? await fresh(ctx, payment.invoiceId) : null };
    },
    receiveBankTransfer: async (_: unknown, a: Args<{ bankTransactionId: string; amount: { amount: string; currency: string }; reference: string; payerName?: string | null; receivedAt?: Date | string | null }>, ctx: InvoicingContext) => {
      const at = ctx.runtime.clock.now();
      const r = await mutate(ctx, (em, now) => receiveBankTransfer(em, { ...a.input, by: ctx.caller.subject, now }, ctx.deps.payments), at);
      if (r.outcome !== 'APPLIED') return { outcome: r.outcome, payment: null, invoice: null, unappliedPayment: r.row };
      // Applied from the suspense list before (this line again): staff's apply told dunning already.
      if (r.row) return { outcome: r.outcome, ...(await paymentView(ctx, r.paymentId)), unappliedPayment: r.row };
      return { outcome: r.outcome, ...(await afterPayment(ctx, r.paymentId, at)), unappliedPayment: null };
    },
    applyUnappliedPayment: async (_: unknown, a: Args<{ unappliedPaymentId: string; invoiceId: string; amount?: { amount: string; currency: string } | null; idempotencyKey: string }>, ctx: InvoicingContext) => {
      const at = ctx.runtime.clock.now();
      const r = await mutate(ctx, (em, now) => applyUnappliedPayment(em, { ...a.input, by: ctx.caller.subject, now }, ctx.deps.payments), at);
      return { unappliedPayment: r.row, ...(await afterPayment(ctx, r.paymentId, at)) };
    },
    refundUnappliedPayment: async (_: unknown, a: Args<{ unappliedPaymentId: string; amount?: { amount: string; currency: string } | null; payoutReference: string; note: string; idempotencyKey: string }>, ctx: InvoicingContext) => ({
      unappliedPayment: await mutate(ctx, (em, now) => refundUnappliedPayment(em, { ...a.input, by: ctx.caller.subject, now })),
    }),
    refundPayment: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      refundKey(a.input?.idempotencyKey);
      const at = ctx.runtime.clock.now();
      // The reason is not part of the request (its hash): it goes on an approval request or the refund's event.
      const { reason, ...input } = a.input ?? {};
      // An AGENT above the approval limit: a pending request, nothing refunded (approvals.ts).
      const r = await mutate(ctx, async (em, now) => {
        const pending = await gateRefund(em, ctx.deps.approvalLimits, ctx.deps.approvalDailyLimits, ctx.caller, a.input, now);
        return pending ? { pending } : { id: await refundPayment(em, { ...input, now }, ctx.deps.payments, { by: approvalActor(ctx.caller), role: ctx.caller.role, reason }) };
      }, at);
      const payment = await ctx.em.fork().findOneOrFail(Payment, { id: a.input.paymentId });
      if ('pending' in r) return { payment, refund: null, approvalRequest: r.pending };
      await pokeCreditPaid(ctx, payment.billingAccountId, at); // the invoice it reopened, paid from the account's credit
      return { payment, refund: await ctx.em.fork().findOneOrFail(Refund, { id: r.id }), approvalRequest: null };
    },
    issueCreditNote: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      creditNoteKey(a.input?.idempotencyKey);
      const at = ctx.runtime.clock.now();
      const r = await mutate(ctx, async (em, now) => {
        const pending = await gateCreditNote(em, ctx.deps.approvalLimits, ctx.deps.approvalDailyLimits, ctx.caller, a.input, now);
        return pending ? { pending } : { id: await issueCreditNote(em, { ...a.input, now }, ctx.deps.payments, { by: approvalActor(ctx.caller), role: ctx.caller.role }) };
      }, at);
      if ('pending' in r) return { creditNote: null, invoice: await fresh(ctx, a.input.invoiceId), approvalRequest: r.pending };
      return { ...(await afterCreditNote(ctx, r.id, at)), approvalRequest: null };
    },
    decideDispute: async (_: unknown, a: Args<{ disputeId: string; decision: 'ACCEPT' | 'REJECT'; amount?: string | null; note: string }>, ctx: InvoicingContext) => {
      const at = ctx.runtime.clock.now();
      const r = await mutate(ctx, async (em, now) => {
        const pending = await gateDisputeAccept(em, ctx.deps.approvalLimits, ctx.deps.approvalDailyLimits, ctx.caller, a.input, now);
        return pending ? { pending } : decideDispute(em, { ...a.input, caller: ctx.caller, now });
      }, at);
      if ('pending' in r) return { ...(await disputePayload(ctx, a.input.disputeId)), approvalRequest: r.pending };
      if (r.changed) await afterDisputeDecided(ctx, r, a.input.disputeId, at);
      return { ...(await disputePayload(ctx, a.input.disputeId)), approvalRequest: null };
    },
    approveRequest: async (_: unknown, a: Args<{ id: string }>, ctx: InvoicingContext) => {
      const at = ctx.runtime.clock.now();
      const r = await mutate(ctx, (em, now) => approveRequest(em, { id: a.input.id, caller: ctx.caller, now, ttlHours: ctx.deps.approvalTtlHours }, ctx.deps.payments), at);
      const row = r.row;
      if (row.status === 'FAILED') return failedRequestPayload(ctx, row);
      if (row.kind === 'CREDIT_NOTE') return { approvalRequest: row, ...(r.changed ? await afterCreditNote(ctx, row.result_id!, at) : { creditNote: await ctx.em.fork().findOne(CreditNote, { id: row.result_id! }) }) };
      if (row.kind === 'REFUND') {
        const payment = await ctx.em.fork().findOneOrFail(Payment, { id: row.subject_id });
        if (r.changed) await pokeCreditPaid(ctx, payment.billingAccountId, at);
        return { approvalRequest: row, payment };
      }
      if (r.changed) {
        const d = await ctx.em.fork().findOneOrFail(Dispute, { id: row.subject_id });
        await afterDisputeDecided(ctx, { invoiceId: d.invoiceId, billingAccountId: d.billingAccountId }, d.id, at);
      }
      return { approvalRequest: row, ...(await disputePayload(ctx, row.subject_id)) };
    },
    rejectRequest: async (_: unknown, a: Args<{ id: string; reason: string }>, ctx: InvoicingContext) => {
      const row = await mutate(ctx, (em, now) => rejectRequest(em, { ...a.input, caller: ctx.caller, now, ttlHours: ctx.deps.approvalTtlHours }));
      return failedRequestPayload(ctx, row);
    },
    startBillRun: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      const r = await mutate(ctx, (em, now) => startBillRun(em, { ...a.input, now }));
      ctx.nudgeBillRuns();
      return { billRun: r.run, started: r.started };
    },
    processBillRunBatch: async (_: unknown, a: Args<{ billRunId: string; batchNo?: number | null }>, ctx: InvoicingContext) => {
      // The dunning its credit paid is told by the use case once the batch commits (as billSetAsideAccounts's).
      const r = await mutate(ctx, (em, now) => processBillRunBatch(em, a.input.billRunId, a.input.batchNo ?? null, ctx.deps, now));
      for (const s of r?.setAsideNow ?? []) ctx.runtime.logger.warn({ billRunId: a.input.billRunId, batchNo: r!.batchNo, ...s }, 'bill run: account set aside, its batch billed without it');
      return { batchNo: r?.batchNo ?? null, accounts: r?.accounts ?? 0, invoicesCreated: r?.invoicesCreated ?? 0, accountsSetAside: r?.setAside ?? 0, accountsLeft: r?.accountsLeft ?? 0, billRun: await billRunView(ctx.em.fork() as Em, a.input.billRunId) };
    },
    billSetAsideAccounts: async (_: unknown, a: Args<{ billRunId: string; billingAccountIds?: string[] | null }>, ctx: InvoicingContext) => {
      const r = await mutate(ctx, (em, now) => billSetAsideAccounts(em, { ...a.input, now }, ctx.deps));
      for (const s of r.refused) ctx.runtime.logger.warn({ billRunId: a.input.billRunId, ...s }, 'bill run: set-aside account refused again');
      return { billed: r.billed, stillSetAside: r.stillSetAside, billRun: await billRunView(ctx.em.fork() as Em, a.input.billRunId) };
    },
    issueInvoice: async (_: unknown, a: Args<{ invoiceId: string }>, ctx: InvoicingContext) => {
      const at = ctx.runtime.clock.now();
      await mutate(ctx, (em, now) => issueInvoice(em, a.input.invoiceId, now, ctx.deps), at);
      const invoice = await fresh(ctx, a.input.invoiceId);
      await pokeCreditPaid(ctx, invoice?.billingAccountId, at); // a negative invoice's credit
      return { invoice };
    },
    voidInvoice: async (_: unknown, a: Args<{ invoiceId: string }>, ctx: InvoicingContext) => {
      await mutate(ctx, (em, now) => voidInvoice(em, { invoiceId: a.input.invoiceId, now }));
      return { invoice: await fresh(ctx, a.input.invoiceId) };
    },
    regenerateInvoice: async (_: unknown, a: Args<{ invoiceId: string }>, ctx: InvoicingContext) => {
      const id = await mutate(ctx, (em, now) => regenerateInvoice(em, { invoiceId: a.input.invoiceId, now }, ctx.deps));
      return { invoice: await fresh(ctx, id) };
    },
    disputeInvoice: async (_: unknown, a: Args<{ invoiceId: string; amount: string; reason: string }>, ctx: InvoicingContext) => {
      // Opens (or sets the amount of) the invoice's staff dispute; its workflow starts like any dispute's.
      const at = ctx.runtime.clock.now();
      const r = await mutate(ctx, (em, now) => disputeInvoice(em, { ...a.input, caller: ctx.caller, now }), at);
      if (r.changed) {
        await pokeDunning(ctx, a.input.invoiceId, 'disputeChanged');
        // A lower hold: the account's credit paid what became due (applyAccountCredit).
        await pokeCreditPaid(ctx, (await fresh(ctx, a.input.invoiceId))?.billingAccountId, at, [a.input.invoiceId]);
      }
      if (r.created) await startDisputeWorkflow(ctx, r.disputeId);
      return { invoice: await fresh(ctx, a.input.invoiceId) };
    },
    resolveDispute: async (_: unknown, a: Args<{ invoiceId: string }>, ctx: InvoicingContext) => {
      const at = ctx.runtime.clock.now();
      const closed = await mutate(ctx, (em, now) => resolveDispute(em, { invoiceId: a.input.invoiceId, now, by: ctx.caller.subject }), at);
      await pokeDunning(ctx, a.input.invoiceId, 'disputeChanged');
      await pokeDisputes(ctx, closed);
      const invoice = await fresh(ctx, a.input.invoiceId);
      // The account's credit may have paid its other open invoices too (applyAccountCredit).
      await pokeCreditPaid(ctx, invoice?.billingAccountId, at, [a.input.invoiceId]);
      return { invoice };
    },
    openDispute: async (_: unknown, a: Args<{ invoiceId: string; amount: string; reason: string; invoiceLineId?: string | null; usageRecordId?: string | null; idempotencyKey: string }>, ctx: InvoicingContext) => {
      staffHoldKey(a.input?.idempotencyKey);
      const r = await mutate(ctx, (em, now) => openDispute(em, { ...a.input, caller: ctx.caller, now }));
      if (r.created && r.held) await pokeDunning(ctx, a.input.invoiceId, 'disputeChanged');
      const payload = await disputePayload(ctx, r.id);
      if (!payload.dispute.workflowStartedAt) await startDisputeWorkflow(ctx, r.id);
      return payload;
    },
    withdrawDispute: async (_: unknown, a: Args<{ disputeId: string }>, ctx: InvoicingContext) => {
      const at = ctx.runtime.clock.now();
      const r = await mutate(ctx, (em, now) => withdrawDispute(em, { disputeId: a.input.disputeId, caller: ctx.caller, now }), at);
      if (r.changed) {
        await afterDisputeClosed(ctx, r, at);
        await pokeDisputes(ctx, [a.input.disputeId]);
      }
      return disputePayload(ctx, a.input.disputeId);
    },
    assessDispute: async (_: unknown, a: Args<{ disputeId: string }>, ctx: InvoicingContext) => {
      const at = ctx.runtime.clock.now();
      const r = await mutate(ctx, (em, now) => assessDispute(em, { disputeId: a.input.disputeId, caller: ctx.caller, now }, ctx.deps.disputeRules, ctx.deps.disputePolicy), at);
      // Accepted by a rule: the workflow that asked reads the answer; dunning and credit as after a decision.
      if (r.decided) {
        await afterDisputeClosed(ctx, r, at);
        await pokeDisputesClosedByNoteOf(ctx, a.input.disputeId);
      }
      return disputePayload(ctx, a.input.disputeId);
    },
    escalateDispute: async (_: unknown, a: Args<{ disputeId: string; level: number }>, ctx: InvoicingContext) => {
      await mutate(ctx, (em, now) => escalateDispute(em, { ...a.input, caller: ctx.caller, now }, ctx.deps.disputePolicy));
      return disputePayload(ctx, a.input.disputeId);
    },
    closeBillingPeriod: async (_: unknown, a: Args<{ billingAccountId: string; periodStart: Date | string; periodEnd: Date | string; final?: boolean | null }>, ctx: InvoicingContext) => {
      // The dunning a negative invoice's credit paid is told by the use case once the period commits (credit-paid-told.ts).
      const r = await mutate(ctx, (em, now) => closeBillingPeriod(em, { billingAccountId: a.input.billingAccountId, periodStart: new Date(a.input.periodStart), periodEnd: new Date(a.input.periodEnd), final: a.input.final === true, now }, ctx.deps));
      return { billingPeriod: { id: r.id, invoice: r.invoiceId ? await fresh(ctx, r.invoiceId) : null, nextPeriodEnd: r.nextPeriodEnd }, accountClosedAt: r.accountClosedAt };
    },
    issuePaymentReceipt: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      const id = await mutate(ctx, (em, now) => issuePaymentReceipt(em, { ...a.input, now }));
      return { receipt: await ctx.em.fork().findOneOrFail(Receipt, { id }) };
    },
    registerBillingAccount: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      await mutate(ctx, async (em, now) => {
        await registerBillingAccount(em, { ...a.input, now });
        // Charges closed wallets refused that were held until invoicing knew the account: billed now, once.
        await billChargesHeldForAccount(em, a.input.billingAccountId, now);
      });
      return { ok: true };
    },
    recordSubscription: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      await mutate(ctx, (em) => recordSubscription(em, { ...a.input, startsAt: new Date(a.input.startsAt), endsAt: a.input.endsAt ? new Date(a.input.endsAt) : null }));
      return { ok: true };
    },
    recordCharges: async (_: unknown, a: { input: any[] }, ctx: InvoicingContext) => {
      const charges = a.input.map((c) => ({ ...c, occurredAt: new Date(c.occurredAt).toISOString(), amountCharged: c.amount, paymentMode: 'POSTPAID' as const, outcome: 'APPLIED' as const, unitsFromAllowances: '0', lineId: c.lineId ?? '' }));
      await mutate(ctx, (em, now) => recordCharges(em, charges, now));
      return { ok: true };
    },
    addOneOffCharge: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      const r = await mutate(ctx, (em, now) => addOneOffCharge(em, { ...a.input, occurredAt: a.input.occurredAt ? new Date(a.input.occurredAt) : null, now }));
      return { ok: true, waived: r.waived };
    },
    waiveOneOffCharge: async (_: unknown, a: Args<{ id: string; reason: string }>, ctx: InvoicingContext) => {
      const at = ctx.runtime.clock.now();
      const r = await mutate(ctx, (em, now) => waiveOneOffCharge(em, { id: a.input.id, reason: a.input.reason, now }), at);
      // A credit note: dunning, the disputes it covered and the credit it brought, as after issueCreditNote.
      if (r.creditNoteId) return { outcome: r.outcome, creditNote: (await afterCreditNote(ctx, r.creditNoteId, at)).creditNote, refundsCancelled: r.refundsCancelled };
      return { outcome: r.outcome, creditNote: null, refundsCancelled: r.refundsCancelled };
    },
    recordDunningNotice: async (_: unknown, a: Args<{ invoiceId: string; notice: 'REMINDER' | 'FINAL_NOTICE' | 'BARRED' | 'RESTORED'; level?: number | null; idempotencyKey: string; lateFee?: { amount: string; at: string } | null; barAt?: string | null; linesResumed?: number | null }>, ctx: InvoicingContext) => {
      const i = a.input;
      const r = await mutate(ctx, (em, now) => recordDunningNotice(em, { ...i, lateFee: i.lateFee ? { amount: i.lateFee.amount, at: new Date(i.lateFee.at) } : null, barAt: i.barAt ? new Date(i.barAt) : null, now }));
      return { published: r.published, invoice: await ctx.em.fork().findOne(Invoice, { id: r.invoiceId }) };
    },
    addDiscount: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      await mutate(ctx, (em) => addDiscount(em, { ...a.input, validFrom: new Date(a.input.validFrom), validTo: a.input.validTo ? new Date(a.input.validTo) : null }));
      return { ok: true };
    },
    upsertTaxRule: async (_: unknown, a: Args<any>, ctx: InvoicingContext) => {
      await mutate(ctx, (em) => upsertTaxRule(em, a.input));
      return { ok: true };
    },
    registerPlanVersion: async (_: unknown, a: Args<{ id: string; document: Record<string, unknown> }>, ctx: InvoicingContext) => {
      await mutate(ctx, (em, now) => registerPlanVersion(em, a.input.id, a.input.document, now));
      return { ok: true };
    },
    runDueDateJob: async (_: unknown, __: unknown, ctx: InvoicingContext) => {
      const orm = ctx.runtime.orm;
      const r = await runCollections(() => orm.em.fork() as Em, ctx.deps, ctx.runtime.clock.now(), { warn: (err, msg) => ctx.runtime.logger.warn({ err }, msg) });
      ctx.runtime.relay.nudge();
      return { autopaid: r.autopaid.length, declined: r.declined.length, dunningStarted: r.dunningStarted.length };
    },
  },
  BillRun: {
    setAsideAccounts: (r: { id: string }, _: unknown, ctx: InvoicingContext) => setAsideAccounts(ctx.em.fork() as Em, r.id),
  },
  BillingAccount: {
    __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
    invoices: async (account: { id: string }, _: unknown, ctx: InvoicingContext) => {
      await requireAccount(ctx.em, ctx.caller, account.id, "read this account's invoices");
      return ctx.invoicesOfAccount.load(account.id);
    },
    accountCredit: async (account: { id: string }, _: unknown, ctx: InvoicingContext) => {
      await requireAccount(ctx.em, ctx.caller, account.id, "read this account's credit");
      const row = await ctx.em.findOne(BillingAccount, { id: account.id });
      return row ? m(await accountCredit(ctx.em, account.id), row.currency) : null;
    },
  },
  Invoice: {
    __resolveReference: async (ref: { id: string }, ctx: InvoicingContext) => requireRow(ctx.em, ctx.caller, await ctx.invoices.load(ref.id), 'read this invoice'),
    netTotal: (i: Invoice) => m(i.netTotal, i.currency),
    taxTotal: (i: Invoice) => m(i.taxTotal, i.currency),
    total: (i: Invoice) => m(i.total, i.currency),
    amountPaid: (i: Invoice) => m(i.amountPaid, i.currency),
    amountCredited: (i: Invoice) => m(i.amountCredited, i.currency),
    amountDisputed: (i: Invoice) => m(i.amountDisputed, i.currency),
    amountDue: (i: Invoice) => m(outstanding(i).toFixed(), i.currency),
    taxSummary: (i: Invoice) => (typeof i.taxSummary === 'string' ? JSON.parse(i.taxSummary) : (i.taxSummary ?? [])),
    lines: (i: Invoice, _: unknown, ctx: InvoicingContext) => ctx.linesOfInvoice.load(i.id),
    payments: (i: Invoice, _: unknown, ctx: InvoicingContext) => ctx.paymentsOfInvoice.load(i.id),
    creditNotes: (i: Invoice, _: unknown, ctx: InvoicingContext) => ctx.creditNotesOfInvoice.load(i.id),
    disputes: (i: Invoice, _: unknown, ctx: InvoicingContext) => ctx.disputesOfInvoice.load(i.id),
    documents: async (i: Invoice, _: unknown, ctx: InvoicingContext) => {
      const model = await documentModel(ctx, i);
      const html = Buffer.from(renderInvoiceHtml(model), 'utf8');
      const pdf = await renderInvoicePdf(model, i.issuedAt ?? i.createdAt);
      return [
        { kind: 'HTML', mediaType: 'text/html', url: `data:text/html;base64,${html.toString('base64')}`, sizeBytes: html.length },
        { kind: 'PDF', mediaType: 'application/pdf', url: `data:application/pdf;base64,${pdf.toString('base64')}`, sizeBytes: pdf.length },
      ];
    },
  },
  InvoiceLine: {
    netAmount: (l: InvoiceLine, _: unknown, ctx: InvoicingContext) => lineMoney(ctx, l, l.netAmount),
    taxAmount: (l: InvoiceLine, _: unknown, ctx: InvoicingContext) => lineMoney(ctx, l, l.taxAmount),
    grossAmount: (l: InvoiceLine, _: unknown, ctx: InvoicingContext) => lineMoney(ctx, l, l.grossAmount),
    creditedAmount: (l: InvoiceLine, _: unknown, ctx: InvoicingContext) => lineMoney(ctx, l, l.creditedAmount),
    quantity: (l: InvoiceLine) => dec(String(l.quantity)).toFixed(),
    taxRate: (l: InvoiceLine) => dec(String(l.taxRate)).toFixed(),
  },
  Payment: {
    __resolveReference: async (ref: { id: string }, ctx: InvoicingContext) => requireRow(ctx.em, ctx.caller, await ctx.em.findOne(Payment, { id: ref.id }), 'read this payment'),
    amount: (p: Payment) => m(p.amount, p.currency),
    appliedAmount: (p: Payment) => m(p.appliedAmount, p.currency),
    creditAmount: (p: Payment) => m(p.creditAmount, p.currency),
    refundedAmount: (p: Payment) => m(p.refundedAmount, p.currency),
    refunds: (p: Payment, _: unknown, ctx: InvoicingContext) => ctx.refundsOfPayment.load(p.id),
  },
  Refund: {
    amount: (r: Refund) => ({ amount: dec(String(r.amount)).toFixed(minorUnits(r.currency)), currency: r.currency }),
    refundedAt: (r: Refund) => r.createdAt,
  },
  CreditNote: {
    __resolveReference: async (ref: { id: string }, ctx: InvoicingContext) => requireRow(ctx.em, ctx.caller, await ctx.em.findOne(CreditNote, { id: ref.id }), 'read this credit note'),
    total: (c: CreditNote) => m(c.total, c.currency),
    taxTotal: (c: CreditNote) => m(c.taxTotal, c.currency),
    lines: async (c: CreditNote, _: unknown, ctx: InvoicingContext) => (await ctx.linesOfCreditNote.load(c.id)).map((l) => ({ ...l, amount: m(l.amount, c.currency), taxAmount: m(l.taxAmount, c.currency) })),
    refundsRefused: (c: CreditNote) => (c.refundsRefused ?? []).map((r) => ({ paymentId: r.paymentId, amount: m(r.amount, c.currency), code: r.code })),
  },
  Receipt: {
    amount: (r: Receipt) => m(r.amount, r.currency),
  },
  Dispute: {
    __resolveReference: async (ref: { id: string }, ctx: InvoicingContext) => requireRow(ctx.em, ctx.caller, await ctx.em.findOne(Dispute, { id: ref.id }), 'read this dispute'),
    amount: (d: Dispute) => m(d.amount, d.currency),
    creditedAmount: (d: Dispute) => (d.creditedAmount == null ? null : m(d.creditedAmount, d.currency)),
    // Which agent decided is staff's; a customer sees how it closed (or their own withdrawal).
    decidedBy: (d: Dispute, _: unknown, ctx: InvoicingContext) => decidedByFor(d.decidedBy, { staff: isStaff(ctx.caller), subject: ctx.caller.subject }),
    assessment: (d: Dispute) => (typeof d.assessment === 'string' ? JSON.parse(d.assessment) : (d.assessment ?? null)),
    pendingApproval: async (d: Dispute, _: unknown, ctx: InvoicingContext) => (isStaff(ctx.caller) ? ((await ctx.pendingApprovalsOfDispute.load(d.id))[0] ?? null) : null),
  },
  UnappliedPayment: {
    bankTransactionId: (r: UnappliedPaymentRow) => r.bank_transaction_id,
    amount: (r: UnappliedPaymentRow) => ({ amount: dec(String(r.amount)).toFixed(minorUnits(r.currency)), currency: r.currency }),
    payerName: (r: UnappliedPaymentRow) => r.payer_name,
    receivedAt: (r: UnappliedPaymentRow) => r.received_at,
    reasonCode: (r: UnappliedPaymentRow) => r.reason_code,
    candidateInvoiceIds: (r: UnappliedPaymentRow) => candidatesOf(r),
    receivedBy: (r: UnappliedPaymentRow) => r.received_by,
    appliedInvoiceId: (r: UnappliedPaymentRow) => r.applied_invoice_id,
    appliedPaymentId: (r: UnappliedPaymentRow) => r.applied_payment_id,
    appliedBy: (r: UnappliedPaymentRow) => r.applied_by,
    appliedAt: (r: UnappliedPaymentRow) => r.applied_at,
    refundedBy: (r: UnappliedPaymentRow) => r.refunded_by,
    refundedAt: (r: UnappliedPaymentRow) => r.refunded_at,
    payoutReference: (r: UnappliedPaymentRow) => r.payout_reference,
    refundNote: (r: UnappliedPaymentRow) => r.refund_note,
    remainingAmount: (r: UnappliedPaymentRow) => ({ amount: dec(String(r.remaining_amount)).toFixed(minorUnits(r.currency)), currency: r.currency }),
    applications: async (r: UnappliedPaymentRow, _: unknown, ctx: InvoicingContext) => (await applicationsOf(ctx.em.fork() as Em, r.id)).map((x) => ({ ...x, currency: r.currency })),
    refunds: async (r: UnappliedPaymentRow, _: unknown, ctx: InvoicingContext) => (await refundsOf(ctx.em.fork() as Em, r.id)).map((x) => ({ ...x, currency: r.currency })),
    createdAt: (r: UnappliedPaymentRow) => r.created_at,
  },
  UnappliedPaymentApplication: {
    invoiceId: (x: UnappliedApplicationRow) => x.invoice_id,
    paymentId: (x: UnappliedApplicationRow) => x.payment_id,
    amount: (x: UnappliedApplicationRow & { currency: string }) => ({ amount: dec(String(x.amount)).toFixed(minorUnits(x.currency)), currency: x.currency }),
    appliedBy: (x: UnappliedApplicationRow) => x.applied_by,
    appliedAt: (x: UnappliedApplicationRow) => x.applied_at,
  },
  UnappliedPaymentRefund: {
    amount: (x: UnappliedRefundRow & { currency: string }) => ({ amount: dec(String(x.amount)).toFixed(minorUnits(x.currency)), currency: x.currency }),
    payoutReference: (x: UnappliedRefundRow) => x.payout_reference,
    refundNote: (x: UnappliedRefundRow) => x.note,
    refundedBy: (x: UnappliedRefundRow) => x.refunded_by,
    refundedAt: (x: UnappliedRefundRow) => x.refunded_at,
  },
  ReceivablesAging: {
    asOf: (r: AgingReport) => r.query.asOf,
    currency: (r: AgingReport) => r.query.currency,
    buckets: async (r: AgingReport, _: unknown, ctx: InvoicingContext) => (await agingSummary(ctx, r)).buckets.map((b) => agingMoney(b, r.query.currency)),
    total: async (r: AgingReport, _: unknown, ctx: InvoicingContext) => agingMoney((await agingSummary(ctx, r)).total, r.query.currency),
    accountCredit: async (r: AgingReport, _: unknown, ctx: InvoicingContext) => ({ amount: await agingAccountCredit(ctx.em, r.query), currency: r.query.currency }),
    accounts: async (r: AgingReport, a: { orderBy?: AgingAccountOrder | null; minDaysPastDue?: number | null; first?: number | null; after?: string | null }, ctx: InvoicingContext) => {
      const limit = pageSize(a);
      if (a.minDaysPastDue != null && a.minDaysPastDue < 0) throw badInput('minDaysPastDue', 'minDaysPastDue is 0 or more', 'AGING_MIN_DAYS_INVALID');
      const page = await agingAccounts(ctx.em, r.query, { order: a.orderBy ?? 'OLDEST_FIRST', limit, after: a.after, minDaysPastDue: a.minDaysPastDue });
      const conn = toConnection(page.rows, limit, (x) => x.billingAccountId, Boolean(a.after));
      // Cursors carry the sort keys (toConnection's carry the id only).
      const edges = conn.edges.map((e) => ({ node: agingAccountMoney(e.node, r.query.currency), cursor: page.cursorOf(e.node) }));
      return { edges, pageInfo: { ...conn.pageInfo, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null } };
    },
  },
  ApprovalRequest: {
    subjectId: (r: ApprovalRow) => r.subject_id,
    billingAccountId: (r: ApprovalRow) => r.billing_account_id,
    amount: (r: ApprovalRow) => ({ amount: dec(String(r.amount)).toFixed(minorUnits(r.currency)), currency: r.currency }),
    requestedBy: (r: ApprovalRow) => r.requested_by,
    input: (r: ApprovalRow) => (typeof r.input === 'string' ? JSON.parse(r.input) : r.input),
    decidedBy: (r: ApprovalRow) => r.decided_by,
    decisionNote: (r: ApprovalRow) => r.decision_note,
    resultId: (r: ApprovalRow) => r.result_id,
    failureCode: (r: ApprovalRow) => r.failure_code,
    failureReason: (r: ApprovalRow) => r.failure_reason,
    createdAt: (r: ApprovalRow) => r.created_at,
    expiresAt: (r: ApprovalRow, _: unknown, ctx: InvoicingContext) => expiresAt(r, ctx.deps.approvalTtlHours),
    decidedAt: (r: ApprovalRow) => r.decided_at,
  },
});

/** Query.receivablesAging's answer: the report's question; its buckets and totals are read once (agingSummary). */
interface AgingReport {
  query: AgingQuery;
  summary?: ReturnType<typeof agingBuckets>;
}

function agingSummary(ctx: InvoicingContext, r: AgingReport): ReturnType<typeof agingBuckets> {
  r.summary ??= agingBuckets(ctx.em, r.query);
  return r.summary;
}

const agingMoney = <T extends { openAmount: string; disputedAmount: string }>(x: T, currency: string) => ({ ...x, openAmount: { amount: x.openAmount, currency }, disputedAmount: { amount: x.disputedAmount, currency } });
const agingAccountMoney = (x: AgingAccountRow, currency: string) => ({ ...agingMoney(x, currency), buckets: x.buckets.map((b) => agingMoney(b, currency)) });

async function lineMoney(ctx: InvoicingContext, l: InvoiceLine, amount: string) {
  const invoice = await ctx.invoices.load(l.invoiceId);
  return m(amount, invoice!.currency);
}

async function documentModel(ctx: InvoicingContext, i: Invoice): Promise<InvoiceDocumentModel> {
  const [lines, account] = await Promise.all([ctx.linesOfInvoice.load(i.id), ctx.em.findOne(BillingAccount, { id: i.billingAccountId })]);
  return {
    number: i.number ?? null,
    state: i.state,
    // Issued: the customer it was issued to (a legal document reads as issued); a draft still follows the account.
    customerName: i.issuedAt ? (i.customerName ?? null) : (account?.customerName ?? null),
    billingAccountId: i.billingAccountId,
    // Its own zone, not the account's: an issued invoice's document never changes, whatever the account's zone becomes.
    timezone: i.timezone,
    currency: i.currency,
    periodStart: i.periodStart,
    periodEnd: i.periodEnd,
    issuedAt: i.issuedAt ?? null,
    dueDate: i.dueDate ?? null,
    paymentReference: i.paymentReference ?? null,
    lines: lines.map((l) => ({ position: l.position, description: l.description, quantity: String(l.quantity), unit: l.unit, netAmount: String(l.netAmount), taxRate: String(l.taxRate), taxAmount: String(l.taxAmount), grossAmount: String(l.grossAmount) })),
    netTotal: String(i.netTotal),
    taxTotal: String(i.taxTotal),
    total: String(i.total),
    amountPaid: String(i.amountPaid),
    amountCredited: String(i.amountCredited),
    amountDue: outstanding(i).toFixed(minorUnits(i.currency)),
  };
}
