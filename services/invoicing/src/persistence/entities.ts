import { defineEntity, type InferEntity } from '@mikro-orm/core';


export const Invoice = defineEntity({
  name: 'Invoice',
  tableName: 'invoice',
  properties: (p) => ({
    id: p.string().primary().length(40),
    billingAccountId: p.string().length(40).index(),
    kind: p.string().length(16),
    number: p.string().length(40).nullable(),
    series: p.string().length(16),
    paymentReference: p.string().length(40).nullable(),
    state: p.string().length(16),
    periodStart: p.datetime(),
    periodEnd: p.datetime(),
    currency: p.string().length(3),
    netTotal: p.decimal('string').precision(18).scale(4),
    taxTotal: p.decimal('string').precision(18).scale(4),
    total: p.decimal('string').precision(18).scale(4),
    amountPaid: p.decimal('string').precision(18).scale(4),
    amountCredited: p.decimal('string').precision(18).scale(4),
    amountDisputed: p.decimal('string').precision(18).scale(4),
    roundingMode: p.string().length(16),
    /** The zone it was composed in: its document's dates are local to it, whatever the account's zone is later (migration 20270125000000). */
    timezone: p.string().length(64),
    /** The customer's name as the account had it when the invoice was issued; null before issue, or the account had none (migration 20270127000000). */
    customerName: p.string().length(200).nullable(),
    heldFrom: p.string().length(16).nullable(),
    billRunId: p.string().length(60).nullable(),
    /** What an event-made invoice bills (a budget replenishment id); null for period invoices. */
    sourceRef: p.string().length(80).nullable(),
    dunningStartedAt: p.datetime().nullable(),
    /** Dunnings started for it; the newest is `dunningWorkflowId(id, dunningRuns)`. */
    dunningRuns: p.integer().default(0),
    taxSummary: p.json<unknown>().nullable(),
    issuedAt: p.datetime().nullable(),
    dueDate: p.datetime().nullable(),
    voidedAt: p.datetime().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime().nullable(),
  }),
});
export type Invoice = InferEntity<typeof Invoice>;

export const InvoiceLine = defineEntity({
  name: 'InvoiceLine',
  tableName: 'invoice_line',
  properties: (p) => ({
    id: p.string().primary().length(40),
    invoiceId: p.string().length(40),
    position: p.integer(),
    kind: p.string().length(16),
    description: p.string().length(300),
    lineId: p.string().length(40).nullable(),
    usageType: p.string().length(32).nullable(),
    zone: p.string().length(40).nullable(),
    quantity: p.decimal('string').precision(24).scale(6),
    unit: p.string().length(16),
    unitPrice: p.decimal('string').precision(18).scale(6).nullable(),
    taxCategory: p.string().length(40),
    taxRate: p.decimal('string').precision(9).scale(6),
    taxInclusive: p.boolean(),
    netAmount: p.decimal('string').precision(18).scale(4),
    taxAmount: p.decimal('string').precision(18).scale(4),
    grossAmount: p.decimal('string').precision(18).scale(4),
    creditedAmount: p.decimal('string').precision(18).scale(4),
    sourceRef: p.string().length(80).nullable(),
  }),
});
export type InvoiceLine = InferEntity<typeof InvoiceLine>;

export const BillingAccount = defineEntity({
  name: 'BillingAccount',
  tableName: 'billing_account',
  properties: (p) => ({
    id: p.string().primary().length(40),
    customerId: p.string().length(40).nullable(),
    customerName: p.string().length(200).nullable(),
    paymentMode: p.string().length(16),
    currency: p.string().length(3),
    billCycleDay: p.integer(),
    timezone: p.string().length(64),
    /** A bill-cycle change not in effect yet: the cycle until `billCycleChangesAt` (migration 20261219000000). */
    prevBillCycleDay: p.integer().nullable(),
    prevTimezone: p.string().length(64).nullable(),
    billCycleChangesAt: p.datetime().nullable(),
    /** The end of the account's final period (status CLOSED). */
    closedAt: p.datetime().nullable(),
    jurisdiction: p.string().length(8),
    roundingMode: p.string().length(16),
    series: p.string().length(16),
    paymentTermsDays: p.integer(),
    /** Payment-provider token for autopay on the due date (never a card number; never returned). */
    autopayToken: p.string().length(200).nullable(),
    status: p.string().length(16),
    createdAt: p.datetime(),
  }),
});
export type BillingAccount = InferEntity<typeof BillingAccount>;

export const Payment = defineEntity({
  name: 'Payment',
  tableName: 'payment',
  properties: (p) => ({
    id: p.string().primary().length(40),
    billingAccountId: p.string().length(40),
    invoiceId: p.string().length(40).nullable(),
    channel: p.string().length(16),
    amount: p.decimal('string').precision(18).scale(4),
    currency: p.string().length(3),
    appliedAmount: p.decimal('string').precision(18).scale(4),
    creditAmount: p.decimal('string').precision(18).scale(4),
    refundedAmount: p.decimal('string').precision(18).scale(4),
    reference: p.string().length(80).nullable(),
    providerRef: p.string().length(80).nullable(),
    /** Unique per billing account (migration 20270120000000). */
    idempotencyKey: p.string().length(200),
    requestHash: p.string().length(64),
    createdAt: p.datetime(),
  }),
});
export type Payment = InferEntity<typeof Payment>;

export const Refund = defineEntity({
  name: 'Refund',
  tableName: 'refund',
  properties: (p) => ({
    id: p.string().primary().length(40),
    paymentId: p.string().length(40),
    amount: p.decimal('string').precision(18).scale(4),
    currency: p.string().length(3),
    providerRef: p.string().length(80).nullable(),
    /** Unique per billing account (migration 20270120000000). */
    idempotencyKey: p.string().length(200),
    requestHash: p.string().length(64),
    /** The REFUND credit note this refund pays out; null: a refundPayment. */
    creditNoteId: p.string().length(40).nullable(),
    /** Why (refundPayment's, the approved request's or the REFUND note's); null: none given, or recorded before 2027-01 (migration 20270113000000). */
    reason: p.string().length(2000).nullable(),
    /** Who made it (the caller's subject; an approved request's requester) and as what role; null: not known (before 2027-01). */
    refundedBy: p.string().length(200).nullable(),
    refundedByRole: p.string().length(16).nullable(),
    /** The supervisor who approved the request it carries out, and that request; null when none was needed (or before 2027-01). */
    approvedBy: p.string().length(200).nullable(),
    approvalRequestId: p.string().length(40).nullable(),
    createdAt: p.datetime(),
  }),
});
export type Refund = InferEntity<typeof Refund>;

export const CreditNote = defineEntity({
  name: 'CreditNote',
  tableName: 'credit_note',
  properties: (p) => ({
    id: p.string().primary().length(40),
    number: p.string().length(40).nullable(),
    invoiceId: p.string().length(40),
    billingAccountId: p.string().length(40),
    kind: p.string().length(16),
    reason: p.string().length(300),
    total: p.decimal('string').precision(18).scale(4),
    taxTotal: p.decimal('string').precision(18).scale(4),
    currency: p.string().length(3),
    /** Unique per billing account (migration 20270120000000). */
    idempotencyKey: p.string().length(200),
    requestHash: p.string().length(64),
    createdAt: p.datetime(),
    /** A REFUND note's card refunds the provider refused after another went out, kept as account credit (RefusedNoteRefund[]; migration 20270204000000). */
    refundsRefused: p.json<{ paymentId: string; amount: string; code: string }[]>().nullable(),
  }),
});
export type CreditNote = InferEntity<typeof CreditNote>;

export const CreditNoteLine = defineEntity({
  name: 'CreditNoteLine',
  tableName: 'credit_note_line',
  properties: (p) => ({
    id: p.string().primary().length(40),
    creditNoteId: p.string().length(40),
    invoiceLineId: p.string().length(40),
    amount: p.decimal('string').precision(18).scale(4),
    taxAmount: p.decimal('string').precision(18).scale(4),
  }),
});
export type CreditNoteLine = InferEntity<typeof CreditNoteLine>;

export const Receipt = defineEntity({
  name: 'Receipt',
  tableName: 'receipt',
  properties: (p) => ({
    id: p.string().primary().length(40),
    number: p.string().length(40),
    billingAccountId: p.string().length(40),
    rechargeId: p.string().length(80),
    amount: p.decimal('string').precision(18).scale(4),
    currency: p.string().length(3),
    paymentReference: p.string().length(120),
    channel: p.string().length(32),
    idempotencyKey: p.string().length(200).unique(),
    requestHash: p.string().length(64),
    createdAt: p.datetime(),
  }),
});
export type Receipt = InferEntity<typeof Receipt>;

/** A dispute on an issued invoice, one of its lines or a rated usage record (migration 20261205000000). */
export const Dispute = defineEntity({
  name: 'Dispute',
  tableName: 'dispute',
  properties: (p) => ({
    id: p.string().primary().length(40),
    invoiceId: p.string().length(40),
    billingAccountId: p.string().length(40),
    invoiceLineId: p.string().length(40).nullable(),
    usageRecordId: p.string().length(80).nullable(),
    amount: p.decimal('string').precision(18).scale(4),
    currency: p.string().length(3),
    reason: p.string().length(1000),
    status: p.string().length(16),
    escalationLevel: p.integer().default(0),
    assessment: p.json<unknown>().nullable(),
    creditedAmount: p.decimal('string').precision(18).scale(4).nullable(),
    creditNoteId: p.string().length(40).nullable(),
    openedBy: p.string().length(200).nullable(),
    decidedBy: p.string().length(200).nullable(),
    decisionNote: p.string().length(2000).nullable(),
    reviewDueAt: p.datetime().nullable(),
    workflowStartedAt: p.datetime().nullable(),
    idempotencyKey: p.string().length(200),
    requestHash: p.string().length(64),
    createdAt: p.datetime(),
    decidedAt: p.datetime().nullable(),
    updatedAt: p.datetime().nullable(),
  }),
});
export type Dispute = InferEntity<typeof Dispute>;

export const entities = [Invoice, InvoiceLine, BillingAccount, Payment, Refund, CreditNote, CreditNoteLine, Receipt, Dispute];
