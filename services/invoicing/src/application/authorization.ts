// Who may do what in invoicing (the same policy as wallets' and usage's). Roles:
//   staff = AGENT, ADMIN, SYSTEM (SYSTEM: the worker's service token); ops = ADMIN, SYSTEM;
//   owner = the CUSTOMER whose token's customerId is the account's billing_account.customer_id
//   (from subscribers' account event, or registerBillingAccount). PARTNER: nothing in invoicing.
// Refusals are coded: no caller (ANONYMOUS) → UNAUTHENTICATED; anything else refused → FORBIDDEN.
// A customer reading another customer's single object by id (invoice(id), dispute(id), the entities)
// gets what a missing one gets: null (requireRow), as subscribers', wallets' and usage's reads.
// A customer's mutation naming another customer's invoice or dispute (openDispute, withdrawDispute,
// recordPayment by id or by reference) answers what a made-up id gets (INVOICE_NOT_FOUND,
// DISPUTE_NOT_FOUND, PAYMENT_REFERENCE_UNMATCHED), not FORBIDDEN: no probing which ids exist.
//
// Query                                                  who
//   invoice(id)                                          staff | owner   (another customer's: null, as an unknown id)
//   invoices(billingAccountId?, state?)                  staff: all | customer: own accounts only (naming an account not
//                                                        theirs, whether or not it exists: FORBIDDEN, the same answer)
//   payments(billingAccountId), creditNotes(…),
//   previewNextInvoice(billingAccountId)                 staff | owner
//   billRun(id | cycleDate)                              staff
//   dispute(id)                                          staff | owner   (another customer's: null, as an unknown id)
//   disputes(filter)                                     staff: all | customer: own accounts only
//   approvalRequests(status)                             staff
//   unappliedPayments(filter)                            staff   (the suspense list: other people's bank transfers)
//   receivablesAging(asOf, currency, buckets)            staff   (every account's debts: an operator report)
// Mutation
//   recordPayment                                        staff: any channel | owner: CARD only, on their own invoice (named
//                                                        or found by reference): money really taken through the payment
//                                                        provider. BANK_TRANSFER / WALLET are reconciliations: staff.
//                                                        Another customer's invoice: as an unknown one (requirePayer).
//   refundPayment, issueCreditNote, issueInvoice, voidInvoice, regenerateInvoice,
//   disputeInvoice, resolveDispute (legacy), startBillRun, billSetAsideAccounts, addOneOffCharge, addDiscount,
//   waiveOneOffCharge                                                                       staff
//   receiveBankTransfer, applyUnappliedPayment           staff   (bank statement lines: reconciliation, like BANK_TRANSFER)
//   refundUnappliedPayment                               staff   (records the payout that sent a kept line back to its payer)
//   openDispute, withdrawDispute                         staff | owner   (staff or a customer here; the row in disputes.ts:
//                                                        another customer's answers as an unknown id; a staff hold
//                                                        (disputeInvoice) is withdrawn by staff only, DISPUTE_OPENED_BY_STAFF)
//   decideDispute                                        staff           (disputes.ts)
//   assessDispute, escalateDispute                       SYSTEM          (disputes.ts; the dispute workflow's steps)
//   approveRequest, rejectRequest                        supervisor: ADMIN, or an AGENT with scope billing:approve
//                                                        (contracts' approval-policy.ts), never the requester
//                                                        (SELF_APPROVAL, checked in approvals.ts on the row)
// Approval limits (approvals.ts): refundPayment, issueCreditNote and decideDispute ACCEPT by an AGENT
// without billing:approve above the limit of the currency move nothing and answer a PENDING request.
//   closeBillingPeriod, issuePaymentReceipt, processBillRunBatch, runDueDateJob, recordDunningNotice,
//   registerBillingAccount, recordSubscription, recordCharges, upsertTaxRule,
//   registerPlanVersion (read-model feeds, the workflows' steps)                             ops
// Entities and fields
//   BillingAccount.__resolveReference                    a stub ({ id }), no data
//   BillingAccount.invoices, BillingAccount.accountCredit  staff | owner
//   Invoice / Payment / CreditNote / Dispute.__resolveReference   staff | owner (another customer's: null, as an unknown id)
//   Dispute.decidedBy                                    staff: as stored | owner: how it closed (auto:, rerate:, creditNote:,
//                                                        regenerateInvoice, resolveDispute) or their own subject, else null
//   Invoice.lines/payments/creditNotes/disputes/documents, CreditNote.lines, InvoiceLine.*, Payment.*, Receipt.*,
//   BillingPeriod.invoice and the payloads' objects: reached only through a field above, so they follow its rule.
// HTTP: invoicing serves only /graphql, /health and /metrics (the platform's server); invoice documents are
// data: links inside Invoice.documents, not routes.
//
// Every Query and Mutation field has its rule in OPERATION_RULES below, checked before its resolver
// (guardOperations); a field without a rule stops the service at start-up.
import { DomainError, isApprover, notFound, type Caller } from '@ledgerline/contracts';
import type { Em } from '@ledgerline/platform';
import { sql } from './sql';
import { invoiceToPay, referenceUnmatched } from './invoice-reference';

export const STAFF: readonly Caller['role'][] = ['AGENT', 'ADMIN', 'SYSTEM'];
export const isStaff = (caller: Caller): boolean => STAFF.includes(caller.role);

const forbidden = (action: string) => new DomainError('FORBIDDEN', `You may not ${action}`, {}, 'FORBIDDEN');

export function requireSignedIn(caller: Caller, action: string): void {
  if (caller.role === 'ANONYMOUS') throw new DomainError('UNAUTHENTICATED', `Sign in to ${action}`, {}, 'UNAUTHENTICATED');
}

/** Agents, admins and the system. */
export function requireStaff(caller: Caller, action: string): void {
  requireSignedIn(caller, action);
  if (!isStaff(caller)) throw forbidden(action);
}

/** Ledgerline's own workflows (the worker's service token), as subscribers' workflow-only mutations. */
export function requireSystem(caller: Caller, action: string): void {
  requireSignedIn(caller, action);
  if (caller.role !== 'SYSTEM') throw new DomainError('FORBIDDEN', `Only Ledgerline workflows may ${action}`, {}, 'FORBIDDEN');
}

/** Whether the caller may act on the account: staff, or the customer who owns it. */
export async function mayAccessAccount(em: Em, caller: Caller, billingAccountId: string): Promise<boolean> {
  if (isStaff(caller)) return true;
  return (await accountsOf(em, caller)).includes(billingAccountId);
}

/**
 * Staff, or the customer who owns the account; UNAUTHENTICATED / FORBIDDEN otherwise. For a row a
 * mutation names by id (the account is the row's), `hidden` is the answer an id that does not exist
 * gets (the use case's NOT_FOUND): a customer naming another customer's row gets it, not FORBIDDEN,
 * so which ids exist cannot be probed. Staff never get it (they may act on every account).
 */
export async function requireAccount(em: Em, caller: Caller, billingAccountId: string, action: string, hidden?: () => DomainError): Promise<void> {
  requireSignedIn(caller, action);
  if (await mayAccessAccount(em, caller, billingAccountId)) return;
  throw hidden && isCustomer(caller) ? hidden() : forbidden(action);
}

/** Per request (the caller object is the request's): the accounts of the calling customer. */
const owned = new WeakMap<Caller, Promise<string[]>>();

/** The accounts a customer owns (for lists; empty for anyone else). One query per request. */
export function accountsOf(em: Em, caller: Caller): Promise<string[]> {
  if (caller.role !== 'CUSTOMER' || !caller.customerId) return Promise.resolve([]);
  let accounts = owned.get(caller);
  if (!accounts) {
    accounts = (async (): Promise<string[]> => sql(em)('billing_account').where({ customer_id: caller.customerId }).pluck('id'))();
    owned.set(caller, accounts);
    accounts.catch(() => owned.delete(caller)); // a failed look-up is not kept for the request
  }
  return accounts;
}

const isCustomer = (caller: Caller): boolean => caller.role === 'CUSTOMER' && Boolean(caller.customerId);

/** Reads of account data: staff, or a customer (whose reads are then narrowed to their accounts); UNAUTHENTICATED / FORBIDDEN otherwise. */
export function requireReader(caller: Caller, action: string): void {
  requireSignedIn(caller, action);
  if (!isStaff(caller) && !isCustomer(caller)) throw forbidden(action);
}

/** ADMIN and SYSTEM: the read-model feeds and the workflows' own steps. */
export function requireOps(caller: Caller, action: string): void {
  requireSignedIn(caller, action);
  if (caller.role !== 'ADMIN' && caller.role !== 'SYSTEM') throw forbidden(action);
}

/** A supervisor: ADMIN, or an AGENT holding billing:approve (contracts' approval-policy.ts). Not SYSTEM: four eyes are two people. */
export function requireApprover(caller: Caller, action: string): void {
  requireSignedIn(caller, action);
  if (!isApprover(caller)) throw forbidden(`${action} (a supervisor does: ADMIN, or an agent with scope billing:approve)`);
}

/**
 * A row read by id that names its account (invoice, payment, credit note, dispute): staff read every
 * row; a customer reads their own, and another customer's row is null, exactly what an id that
 * does not exist reads as (no error), so which ids exist cannot be probed. Anyone else is refused
 * (UNAUTHENTICATED / FORBIDDEN) before the row counts, whatever the id.
 */
export async function requireRow<T extends { billingAccountId: string }>(em: Em, caller: Caller, row: T | null | undefined, action: string): Promise<T | null> {
  requireReader(caller, action);
  if (!row || !(await mayAccessAccount(em, caller, row.billingAccountId))) return null;
  return row;
}

/**
 * The accounts a list may show: undefined = every account (staff, no account named); else the
 * named account (staff, or its owner: FORBIDDEN for anyone else) or the calling customer's own.
 */
export async function listableAccounts(em: Em, caller: Caller, billingAccountId: string | null | undefined, action: string): Promise<string[] | undefined> {
  requireReader(caller, action);
  if (billingAccountId) {
    if (!(await mayAccessAccount(em, caller, billingAccountId))) throw forbidden(action);
    return [billingAccountId];
  }
  return isStaff(caller) ? undefined : accountsOf(em, caller);
}

/**
 * recordPayment: staff record any payment (bank transfers matched, cash, wallet…); a customer pays
 * only their own invoice and only by CARD, which takes the money through the payment provider
 * (recordPayment charges the payment-method token). Another channel only records that money came,
 * so a customer recording one would settle their invoice without paying.
 */
export async function requirePayer(em: Em, caller: Caller, input: { invoiceId?: string | null; reference?: string | null; channel?: string } | undefined): Promise<void> {
  requireSignedIn(caller, 'record payments');
  if (isStaff(caller)) return;
  if (!isCustomer(caller)) throw forbidden('record payments');
  if (input?.channel !== 'CARD') {
    throw new DomainError('PAYMENT_CHANNEL_NOT_ALLOWED', 'Customers pay by card (with a payment-method token); bank transfers and other payments are recorded by staff once the money has arrived', { field: 'input.channel' }, 'FORBIDDEN');
  }
  // The invoice recordPayment will pay, found by the same function (invoiceToPay): named, or (no or an
  // empty invoiceId) by the reference as recordPayment finds it (exact, else by its tokens: "pay inv
  // 2026-000123"), so neither a loosely written reference nor an empty invoiceId slips past this check
  // and pays (and shows) another customer's invoice. An unknown invoice or reference is answered here
  // (INVOICE_NOT_FOUND, PAYMENT_REFERENCE_UNMATCHED / _AMBIGUOUS), and another customer's invoice
  // alike, at the same point: the customer cannot tell the two apart. Naming none: recordPayment answers.
  const invoiceId = await invoiceToPay(em, input);
  if (!invoiceId) return;
  const hidden = () => (input?.invoiceId ? notFound('Invoice', invoiceId, 'input.invoiceId') : referenceUnmatched(input!.reference!));
  const invoice = await sql(em)('invoice').where({ id: invoiceId }).first('billing_account_id');
  if (!invoice) throw hidden();
  await requireAccount(em, caller, invoice.billing_account_id, 'pay this invoice', hidden);
}

type Guard = (caller: Caller, em: Em, args: any) => void | Promise<unknown>;
const staff = (action: string): Guard => (caller) => requireStaff(caller, action);
const ops = (action: string): Guard => (caller) => requireOps(caller, action);
const approver = (action: string): Guard => (caller) => requireApprover(caller, action);
const reader = (action: string): Guard => (caller) => requireReader(caller, action);
const ofAccount = (action: string): Guard => (caller, em, a: { billingAccountId: string }) => requireAccount(em, caller, a.billingAccountId, action);
/** The use case checks the row (disputes.ts); here only that someone is signed in. */
const inUseCase = (action: string): Guard => (caller) => requireSignedIn(caller, action);
/** Staff or a customer here (others refused before any look-up); the use case checks the row (disputes.ts). */
const ownerInUseCase = (action: string): Guard => (caller) => requireReader(caller, action);

/** The matrix above, as code: checked before each Query and Mutation resolver. */
export const OPERATION_RULES: Record<'Query' | 'Mutation', Record<string, Guard>> = {
  Query: {
    invoice: reader('read invoices'), // + the row's account (resolver: requireRow)
    invoices: reader('read invoices'), // narrowed by listableAccounts
    payments: ofAccount("read this account's payments"),
    creditNotes: ofAccount("read this account's credit notes"),
    previewNextInvoice: ofAccount("preview this account's next invoice"),
    billRun: staff('read bill runs'),
    dispute: reader('read disputes'), // + the row's account
    disputes: reader('read disputes'), // narrowed by listableAccounts
    approvalRequests: staff('read approval requests'),
    unappliedPayments: staff('read unapplied payments'),
    receivablesAging: staff('read the receivables aging report'),
  },
  Mutation: {
    recordPayment: (caller, em, a: { input?: { invoiceId?: string | null; reference?: string | null; channel?: string } }) => requirePayer(em, caller, a.input),
    refundPayment: staff('refund payments'),
    receiveBankTransfer: staff('receive bank transfers'),
    applyUnappliedPayment: staff('apply unapplied payments'),
    refundUnappliedPayment: staff('refund unapplied payments'),
    issueCreditNote: staff('issue credit notes'),
    issueInvoice: staff('issue invoices'),
    voidInvoice: staff('void invoices'),
    regenerateInvoice: staff('regenerate invoices'),
    disputeInvoice: staff('put invoices on hold for a dispute (customers use openDispute)'),
    resolveDispute: staff('resolve disputes'),
    startBillRun: staff('start bill runs'),
    billSetAsideAccounts: staff('bill set-aside accounts of bill runs'),
    addOneOffCharge: staff('add one-off charges'),
    waiveOneOffCharge: staff('waive one-off charges'),
    addDiscount: staff('add discounts'),
    openDispute: ownerInUseCase('open disputes'),
    withdrawDispute: ownerInUseCase('withdraw disputes'),
    decideDispute: inUseCase('decide disputes'),
    assessDispute: inUseCase('assess disputes'),
    escalateDispute: inUseCase('escalate disputes'),
    approveRequest: approver('approve requests'), // + not the requester (approvals.ts)
    rejectRequest: approver('reject requests'), // + not the requester (approvals.ts)
    processBillRunBatch: ops('process bill run batches'),
    closeBillingPeriod: ops('close billing periods'),
    issuePaymentReceipt: ops('issue payment receipts'),
    runDueDateJob: ops('run the due-date job'),
    recordDunningNotice: ops('record dunning notices'),
    registerBillingAccount: ops("feed invoicing's read model"),
    recordSubscription: ops("feed invoicing's read model"),
    recordCharges: ops("feed invoicing's read model"),
    upsertTaxRule: ops('change tax rules'),
    registerPlanVersion: ops("feed invoicing's read model"),
  },
};

// ctx: any, as each resolver names its own context type.
type Resolver = (parent: unknown, args: any, ctx: any, info: unknown) => unknown;

/** Puts each Query and Mutation resolver behind its rule; a field without one is a start-up error (nothing is open by default). */
export function guardOperations<R extends { Query: Record<string, Resolver>; Mutation: Record<string, Resolver> }>(resolvers: R): R {
  const guard = (type: 'Query' | 'Mutation') =>
    Object.fromEntries(
      Object.entries(resolvers[type]).map(([field, resolve]) => {
        const rule = OPERATION_RULES[type][field];
        if (!rule) throw new Error(`invoicing: ${type}.${field} has no authorization rule (src/application/authorization.ts)`);
        const guarded: Resolver = async (parent, args, ctx: { caller: Caller; em: Em }, info) => {
          await rule(ctx.caller, ctx.em, args);
          return resolve(parent, args, ctx, info);
        };
        return [field, guarded];
      }),
    );
  return { ...resolvers, Query: guard('Query'), Mutation: guard('Mutation') };
}
