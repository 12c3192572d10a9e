import { defineEntity, type InferEntity } from '@mikro-orm/core';

export const Customer = defineEntity({
  name: 'Customer',
  tableName: 'customer',
  properties: (p) => ({
    id: p.string().primary().length(40),
    name: p.string().length(200),
    kind: p.string().length(16),
    email: p.string().length(320).nullable(),
    phone: p.string().length(16).nullable(),
    /** JSON: { email, sms, push, webhookUrl } */
    notificationPreferences: p.text(),
    creditClass: p.string().length(1),
    locale: p.string().length(16),
    timezone: p.string().length(64),
    createdAt: p.datetime(),
  }),
});
export type Customer = InferEntity<typeof Customer>;

export const BillingAccount = defineEntity({
  name: 'BillingAccount',
  tableName: 'billing_account',
  properties: (p) => ({
    id: p.string().primary().length(40),
    customerId: p.string().length(40).index(),
    parentAccountId: p.string().length(40).nullable(),
    name: p.string().length(200).nullable(),
    paymentMode: p.string().length(16),
    currency: p.string().length(3),
    billCycleDay: p.integer(),
    paymentTermsDays: p.integer(),
    timezone: p.string().length(64),
    creditLimit: p.decimal('string').precision(18).scale(4).nullable(),
    autopayToken: p.string().length(200).nullable(),
    /**
     * The partner (an MVNO) whose customer this account is, given when it is opened (a child account takes its
     * parent's); null: the operator's own. On billingaccount.created: usage lets only this partner charge the
     * account's lines online.
     */
    partnerId: p.string().length(100).nullable(),
    /**
     * Which assignment of the partner `partnerId` is: 0 as opened, one more per change (`updateBillingAccount`
     * `partnerId`, or the parent's change followed). On billingaccount.created (0) and .changed (`partnerVersion`):
     * usage keeps the partner of the highest version it has read, whatever order the events come in. The column is
     * NOT NULL DEFAULT 0; left out of inserts that do not set it (undefined on such a row just created), read as 0.
     */
    partnerVersion: p.integer().nullable(),
    createdAt: p.datetime(),
    /**
     * OPEN, or CLOSED by `closeBillingAccount` (every line terminated first); a closed account takes
     * no new line or plan. The column is NOT NULL DEFAULT 'OPEN'; left out of inserts (undefined on a
     * row just created here), which reads as OPEN (`accountStatus`).
     */
    status: p.string().length(16).nullable(),
    /** When it was closed: the end of its final billing period. */
    closedAt: p.datetime().nullable(),
    closedReason: p.string().length(300).nullable(),
    /** Idempotency key of the request that closed it (the same key again gets the same answer). */
    closedKey: p.string().length(200).nullable(),
  }),
});
export type BillingAccount = InferEntity<typeof BillingAccount>;

export const Line = defineEntity({
  name: 'Line',
  tableName: 'line',
  properties: (p) => ({
    id: p.string().primary().length(40),
    billingAccountId: p.string().length(40).index(),
    /** Unique among lines that are not TERMINATED (partial unique index in the migration). */
    msisdn: p.string().length(16),
    iccid: p.string().length(22).nullable(),
    imsi: p.string().length(15).nullable(),
    status: p.string().length(16),
    /** Code of the plan of the current subscription (denormalised for reads). */
    planCode: p.string().length(80).nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    /** When its TERMINATE order completed: the number's quarantine runs from here (`addLine`). */
    terminatedAt: p.datetime().nullable(),
  }),
});
export type Line = InferEntity<typeof Line>;

/** A line on a pinned plan version for a span of time (TMF637 Product). */
export const Subscription = defineEntity({
  name: 'Subscription',
  tableName: 'subscription',
  properties: (p) => ({
    id: p.string().primary().length(40),
    lineId: p.string().length(40).index(),
    billingAccountId: p.string().length(40).index(),
    planCode: p.string().length(80),
    planVersionId: p.string().length(40),
    /** PENDING (line not yet active), ACTIVE, SCHEDULED (starts later), ENDED. */
    status: p.string().length(16),
    sharedAllowances: p.boolean(),
    /** JSON array of { code, startsAt, endsAt }. */
    addOns: p.text(),
    startsAt: p.datetime(),
    endsAt: p.datetime().nullable(),
    createdAt: p.datetime(),
  }),
});
export type Subscription = InferEntity<typeof Subscription>;

/** TMF622 ProductOrder: one requested change, fulfilled by the order workflow. */
export const ProductOrder = defineEntity({
  name: 'ProductOrder',
  tableName: 'product_order',
  /** A caller's idempotency key is unique within the order's billing account (another account may use it too). */
  uniques: [{ properties: ['billingAccountId', 'idempotencyKey'] }],
  properties: (p) => ({
    id: p.string().primary().length(40),
    kind: p.string().length(16),
    status: p.string().length(16),
    billingAccountId: p.string().length(40).index(),
    lineId: p.string().length(40).index(),
    /** JSON: what to do (e.g. the plan change quote), fixed when the order is placed. */
    request: p.text(),
    /** Unique per billing account (see `uniques`); looked up by (billingAccountId, idempotencyKey). */
    idempotencyKey: p.string().length(200).nullable(),
    requestHash: p.string().length(64).nullable(),
    failureCode: p.string().length(80).nullable(),
    failureMessage: p.text().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    completedAt: p.datetime().nullable(),
    /** In-process saga only (see application/order-saga.ts): the run holding the order, until when. */
    sagaOwner: p.string().length(40).nullable(),
    sagaLeaseUntil: p.datetime().nullable(),
    /** JSON `{ code, message }`: the failure the saga decided on, recorded before the order is failed. */
    sagaFailure: p.text().nullable(),
    /** A FAILED order whose network the saga has still to undo (and, with `sagaChargeAt` on a prepaid account, its charge to refund). */
    sagaCompensate: p.boolean().default(false),
    /**
     * When the network confirmed this FAILED order undone (its compensation returned: the in-process
     * saga's, or the workflow's as it reports with `failOrder` `networkUndone`). Until then a FAILED
     * activation may have left the number live at the network, so the number is quarantined
     * (`assertNumberNotQuarantined`). Null for every other order.
     */
    networkUndoneAt: p.datetime().nullable(),
    /**
     * Staff who confirmed it by hand (`confirmOrderNetworkUndone`, "<role>:<subject>") and what they said: the
     * audit of that confirmation. Null when the saga's or the workflow's compensation confirmed it.
     */
    networkUndoneBy: p.string().length(200).nullable(),
    networkUndoneNote: p.string().length(500).nullable(),
    /**
     * ADD_ON settled in wallets (prepaid or postpaid): the instant the add-on starts, which dates its
     * buckets' grants (and a prepaid account's charge), fixed (own commit) before wallets is first
     * asked, by the inline saga or the `completeOrder` mutation (Temporal), so every retry sends the
     * same charge and grants (wallets refuses a key again with other data). Postpaid orders have it
     * since 2026-11 (before, their retries were dated anew and refused once a grant had gone
     * through). Set on a prepaid account: the charge may have reached wallets, so a FAILED order
     * settles it and refunds it once (saga compensation, `failOrder` mutation); a postpaid account
     * pays nothing in wallets (invoicing bills the one-off), so nothing is settled or refunded.
     */
    sagaChargeAt: p.datetime().nullable(),
  }),
});
export type ProductOrder = InferEntity<typeof ProductOrder>;

/** A one-off credit or charge for invoicing to bill (proration, activation fee). */
export const OneOffCharge = defineEntity({
  name: 'OneOffCharge',
  tableName: 'one_off_charge',
  properties: (p) => ({
    id: p.string().primary().length(40),
    billingAccountId: p.string().length(40).index(),
    lineId: p.string().length(40).nullable(),
    subscriptionId: p.string().length(40).nullable(),
    orderId: p.string().length(40).nullable(),
    kind: p.string().length(8),
    reason: p.string().length(40),
    amount: p.decimal('string').precision(18).scale(4),
    currency: p.string().length(3),
    description: p.string().length(300),
    periodStart: p.string().length(10).nullable(),
    periodEnd: p.string().length(10).nullable(),
    chargedAt: p.datetime(),
  }),
});
export type OneOffCharge = InferEntity<typeof OneOffCharge>;

/**
 * A message to a customer on one channel (TMF681 CommunicationMessage): a usage threshold, a low
 * balance, a cut-off warning. One row per source event and channel, so a redelivered event
 * sends nothing twice.
 */
export const CommunicationMessage = defineEntity({
  name: 'CommunicationMessage',
  tableName: 'communication_message',
  properties: (p) => ({
    id: p.string().primary().length(60),
    customerId: p.string().length(40).index(),
    billingAccountId: p.string().length(40),
    lineId: p.string().length(40).nullable().index(),
    /** SMS, EMAIL, PUSH or WEBHOOK. */
    channel: p.string().length(16),
    /** Where it goes: an MSISDN, an e-mail address, a push handle or a webhook URL. */
    receiver: p.string().length(400),
    template: p.string().length(80),
    subject: p.string().length(200),
    content: p.text(),
    /** CloudEvent that caused it (type and id), for audit. */
    sourceEventType: p.string().length(80),
    sourceEventId: p.string().length(120),
    /** PENDING → SENT, or FAILED after the last attempt. */
    state: p.string().length(16),
    attempts: p.integer(),
    lastError: p.text().nullable(),
    nextAttemptAt: p.datetime(),
    createdAt: p.datetime(),
    sentAt: p.datetime().nullable(),
  }),
});
export type CommunicationMessage = InferEntity<typeof CommunicationMessage>;

/**
 * An add-on offered to a line because its usage called for one (a plan `offer` rule), open until
 * it expires. PRESENTED → ACCEPTED (an add-on order) / DECLINED / EXPIRED; WITHDRAWN when it could
 * not be offered (line not active, add-on already active, incompatible plan); ACCEPTED → FAILED when
 * its order fails (reason: the order's failure), FAILED → ACCEPTED (a new order) / DECLINED until it expires.
 */
export const UpsellOffer = defineEntity({
  name: 'UpsellOffer',
  tableName: 'upsell_offer',
  properties: (p) => ({
    id: p.string().primary().length(40),
    lineId: p.string().length(40).index(),
    billingAccountId: p.string().length(40),
    offerCode: p.string().length(80),
    offerName: p.string().length(200),
    price: p.decimal('string').precision(18).scale(4),
    currency: p.string().length(3),
    /** The usage (allowance) period whose usage triggered it: its first day, or its start instant when cut short that day. */
    period: p.string().length(40),
    /** The plan rule that fired. */
    rule: p.string().length(120),
    state: p.string().length(16),
    reason: p.string().length(200).nullable(),
    /** When it stops being open: its deadline (validForHours after presenting), or `periodEnd` when that comes first. */
    expiresAt: p.datetime(),
    /**
     * End of that allowance period (usage's `periodEnd`): the offer is for that period, so it is not
     * accepted after it. Null for offers stored before it was kept (Migration20270124000000) or
     * presented without the period's bounds: their deadline alone applies.
     */
    periodEnd: p.datetime().nullable(),
    orderId: p.string().length(40).nullable(),
    remindedAt: p.datetime().nullable(),
    respondedAt: p.datetime().nullable(),
    createdAt: p.datetime(),
  }),
});
export type UpsellOffer = InferEntity<typeof UpsellOffer>;

/**
 * A collections hold on a line: one per holder (the dunning workflow of one unpaid invoice,
 * `dunning-<invoiceId>`) and line while it lasts. A line barred for collections stays barred while
 * any hold remains on it; lifting the last one resumes it, and only if its bar is still the one a
 * hold placed (a line suspended or barred for another reason is never resumed by a lift).
 */
export const CollectionsHold = defineEntity({
  name: 'CollectionsHold',
  tableName: 'collections_hold',
  properties: (p) => ({
    id: p.string().primary().length(40),
    lineId: p.string().length(40).index(),
    billingAccountId: p.string().length(40),
    /** Who holds the line; at most one hold per holder and line is not lifted (partial unique index). */
    holder: p.string().length(160),
    reason: p.string().length(300).nullable(),
    /** Idempotency key of the request that placed it: a retry finishes that request, never places again. */
    placedKey: p.string().length(160),
    /**
     * The BAR order this hold placed (the line was ACTIVE), its latest attempt: one the network
     * refused (FAILED) is replaced by a new attempt when the placement is asked again with its key.
     * Null when the line was already barred or suspended.
     */
    barOrderId: p.string().length(40).nullable(),
    placedAt: p.datetime(),
    /** Idempotency key of the request that lifted it. */
    liftedKey: p.string().length(160).nullable(),
    liftedAt: p.datetime().nullable(),
    /**
     * The RESUME order its lift placed (the last hold of a line barred for collections), its latest
     * attempt, as `barOrderId`. Null when the lift resumed nothing (or was made before this column:
     * then found by the lift's key).
     */
    resumeOrderId: p.string().length(40).nullable(),
  }),
});
export type CollectionsHold = InferEntity<typeof CollectionsHold>;

/**
 * The audit trail of a billing account's terms: one row per field a request changed (`openBillingAccount` the terms it
 * was opened with, `updateBillingAccount`, `closeBillingAccount`, a child following its parent's partner), who made it
 * (subject and role) and when, from what to what; written in the transaction of the change, none for a change that
 * changes nothing, never updated or deleted. `seq` numbers an account's rows (1, 2, ...; unique per account, taken
 * under the account's write lock), so they read newest first even when two share an instant.
 * `field` and its values (`domain/billing-account-changes.ts`): STATUS (null → OPEN at open, OPEN → CLOSED),
 * CREDIT_LIMIT (a decimal in the account's currency; null: no limit), AUTOPAY (`sha256:<8 hex>`, a fingerprint of the
 * token, never the token; null: none on file), PARTNER (the partner id; null: the operator's own; `version` the
 * account's partnerVersion after it, unique per account: the rows `BillingAccount.partnerChanges` answers).
 * Before 2027-01-31 only partner changes were kept (`billing_account_partner_change`, moved here by the migration).
 */
export const BillingAccountChange = defineEntity({
  name: 'BillingAccountChange',
  tableName: 'billing_account_change',
  uniques: [{ properties: ['billingAccountId', 'seq'] }, { properties: ['billingAccountId', 'field', 'version'] }],
  properties: (p) => ({
    id: p.string().primary().length(40),
    billingAccountId: p.string().length(40),
    seq: p.integer(),
    field: p.string().length(32),
    oldValue: p.string().length(200).nullable(),
    newValue: p.string().length(200).nullable(),
    /** PARTNER: the account's partnerVersion after the change (0: given at open). Null for other fields. */
    version: p.integer().nullable(),
    /** The caller who made it (its subject) and its role. */
    changedBy: p.string().length(200),
    changedByRole: p.string().length(16),
    changedAt: p.datetime(),
    /** When the account followed its parent (the partner): the account the request changed. */
    viaAccountId: p.string().length(40).nullable(),
    /**
     * The request that made it (the rows one request wrote share it, a parent's and its followers' too): its
     * idempotency key where it takes one (closeBillingAccount), else an id made for it. Null on rows moved from the
     * partner trail.
     */
    requestKey: p.string().length(200).nullable(),
    /** Why, where the request says (closeBillingAccount's reason). */
    reason: p.string().length(300).nullable(),
  }),
});
export type BillingAccountChange = InferEntity<typeof BillingAccountChange>;

export const entities = [Customer, BillingAccount, Line, Subscription, ProductOrder, OneOffCharge, CommunicationMessage, UpsellOffer, CollectionsHold, BillingAccountChange];
