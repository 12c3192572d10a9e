/**
 * The one registry of NATS subjects. Subjects are `billing.<service>.<entity>.<event>`,
 * lower-case dot tokens. Event types are TM Forum names. Nothing else in the code base
 * spells a subject by hand.
 */
export const SERVICES = ['catalog', 'subscribers', 'usage', 'wallets', 'invoicing'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface EventDefinition {
  readonly subject: string;
  readonly type: string;
  readonly description: string;
}

function event(service: ServiceName, entity: string, name: string, type: string, description: string): EventDefinition {
  return { subject: `billing.${service}.${entity}.${name}`, type, description };
}

export const EVENTS = {
  planPublished: event('catalog', 'plan', 'published', 'ProductOfferingCreateEvent', 'A plan version was published and is now sellable from its effective date.'),
  planVersionCancelled: event('catalog', 'plan', 'versioncancelled', 'ProductOfferingStateChangeEvent', 'A plan version scheduled for a later date was withdrawn before it took effect (CANCELLED, kept in the history; it never was in force and nothing was sold on it); data names the version, its date and the reason.'),
  planRetired: event('catalog', 'plan', 'retired', 'ProductOfferingStateChangeEvent', 'A plan was retired; existing subscriptions keep their pinned version.'),
  offerPublished: event('catalog', 'offer', 'published', 'ProductOfferingCreateEvent', "An add-on offer was created or changed (importOffer): what it costs and grants from now on; add-ons bought before keep their terms. data is OfferPublishedData; once per change."),
  offerRetired: event('catalog', 'offer', 'retired', 'ProductOfferingStateChangeEvent', "An add-on offer was retired (retireOffer): it is no longer bought (addAddOn: CONFLICT OFFER_RETIRED) or offered (upsell offers WITHDRAWN); add-ons bought before run until they lapse. data is OfferRetiredData; once per offer."),
  customerCreated: event('subscribers', 'customer', 'created', 'CustomerCreateEvent', 'A customer was created.'),
  billingAccountCreated: event('subscribers', 'billingaccount', 'created', 'BillingAccountCreateEvent', "A billing account was opened: data carries its customerId, terms and partnerId (the partner, an MVNO, whose customer it is; null: the operator's own; usage lets only that partner charge the account's lines online) with partnerVersion 0 (a later change of the partner comes on billingaccount.changed with a higher one)."),
  billingAccountChanged: event('subscribers', 'billingaccount', 'changed', 'BillingAccountAttributeValueChangeEvent', "A billing account's credit limit, autopay or partner changed; data is BillingAccountChangedData (whether a token is on file, never the token; its customerId, and its partnerId as it is now with partnerVersion: of two events the higher version says the account's partner)."),
  billingAccountClosed: event('subscribers', 'billingaccount', 'closed', 'BillingAccountStateChangeEvent', "A billing account was closed (the customer left; every line of it terminated first): data is BillingAccountClosedData (closedAt, reason). Invoicing bills its final period up to closedAt; after it only late charges, on an adjustment invoice."),
  lineStateChanged: event('subscribers', 'line', 'statechanged', 'ServiceStateChangeEvent', 'A line moved in its lifecycle.'),
  subscriptionCreated: event('subscribers', 'subscription', 'created', 'ProductCreateEvent', 'A line was subscribed to a plan version.'),
  subscriptionChanged: event('subscribers', 'subscription', 'changed', 'ProductAttributeValueChangeEvent', 'A subscription changed plan version, add-ons or status.'),
  productOrderStateChanged: event('subscribers', 'productorder', 'statechanged', 'ProductOrderStateChangeEvent', 'A product order (new line, plan change, suspend, resume, terminate) moved ACKNOWLEDGED → IN_PROGRESS → COMPLETED / FAILED.'),
  oneOffChargeCreated: event('subscribers', 'oneoffcharge', 'created', 'AppliedCustomerBillingRateCreateEvent', 'A one-off charge or credit (plan-change proration, activation fee) for invoicing to bill; data is OneOffChargeData. Its description has at most 300 characters (ONE_OFF_DESCRIPTION_MAX): a consumer bills the charge whatever its description, cutting a longer one.'),
  addOnEnded: event('subscribers', 'addon', 'ended', 'ProductStateChangeEvent', "An add-on purchase was ended before it lapsed (endAddOn): it is no longer valid from endedAt (the subscription's addOns say so too, in subscription.changed), wallets revokes its allowance buckets by grantKeys (what is left goes back), and the unused part of its price comes as a CREDIT one-off (oneoffcharge.created, creditChargeId; none when nothing is unused). data is AddOnEndedData; once per purchase."),
  usageReceived: event('usage', 'record', 'received', 'UsageCreateEvent', 'A usage record was accepted for rating.'),
  usageStateChanged: event('usage', 'record', 'statechanged', 'UsageStateChangeEvent', 'A usage record changed status (RATED, REJECTED, RERATED, BILLED).'),
  usageThresholdReached: event('usage', 'allowance', 'threshold', 'UsageThresholdEvent', 'A line crossed 50/80/100 % of an allowance in the period (once per line, period, allowance and threshold).'),
  usageNotificationRequested: event('usage', 'notification', 'requested', 'UsageNotificationEvent', "A plan notify rule asks for a customer notification (template, channel), once per line, period and template; or (template SPEND_ALERT, rule spendAlert, since 2027-01-31) a spend alert the customer set (setSpendAlert) was reached: data adds spendAlertId, alertAmount, spent and currency (decimal strings at the currency's minor unit, spent rounded down) and the bill period (period, periodStart, periodEnd); lineId null for an account's alert (subject = the account); usageRecordId null when the alert was set after the spend had reached it; once per alert, amount and bill period. Subscribers tells the customer (SPEND_ALERT)."),
  usageOfferTriggered: event('usage', 'offer', 'triggered', 'UsageOfferEvent', 'A plan offer rule fired: starts the upsell flow, once per line, period and offer.'),
  usageRerated: event('usage', 'period', 'rerated', 'UsageRerateEvent', "An account's period was re-rated; adjustments were sent as delta charges."),
  balanceTopup: event('wallets', 'balance', 'topup', 'TopupBalanceCreateEvent', "A prepaid wallet was credited with money: a top-up or a card recharge's credit (channel PAYMENT), a confirmed bank transfer (BANK_TRANSFER) or a redeemed voucher (VOUCHER). data is TopupBalanceData; since 2027-01-29 with the balance once the credit and the due charges it paid (duePaid) are on the ledger. Subscribers confirms it to the customer (TOPUP_CONFIRMED)."),
  balanceAdjusted: event('wallets', 'balance', 'adjusted', 'AdjustBalanceCreateEvent', 'An agent adjusted a balance.'),
  balanceAdjustmentRequested: event('wallets', 'adjustmentrequest', 'created', 'AdjustBalanceRequestCreateEvent', "An agent's balance adjustment above their approval limit awaits a supervisor (four eyes); nothing moved yet."),
  balanceAdjustmentDecided: event('wallets', 'adjustmentrequest', 'decided', 'AdjustBalanceRequestStateChangeEvent', 'A supervisor approved (the adjustment was made once) or rejected a balance adjustment request, or approved one whose adjustment was then refused (FAILED, with failureCode and failureReason; nothing moved).'),
  balanceAdjustmentExpired: event('wallets', 'adjustmentrequest', 'expired', 'AdjustBalanceRequestStateChangeEvent', 'A balance adjustment request was not decided within LEDGERLINE_APPROVAL_TTL_HOURS: EXPIRED, nothing moved, it can no longer be approved.'),
  balanceLow: event('wallets', 'balance', 'low', 'BalanceThresholdEvent', 'A wallet fell below its low-balance threshold.'),
  balanceDepleted: event('wallets', 'balance', 'depleted', 'BalanceThresholdEvent', 'A prepaid wallet reached zero (or its overdraft floor): service will be cut off.'),
  bucketThreshold: event('wallets', 'bucket', 'threshold', 'BucketThresholdEvent', 'An allowance bucket crossed 50, 80 or 100 percent used.'),
  bucketExpiring: event('wallets', 'bucket', 'expiring', 'BucketExpiryWarningEvent', 'An allowance bucket with units left expires soon.'),
  bucketExpired: event('wallets', 'bucket', 'expired', 'BucketExpiredEvent', 'An allowance bucket expired and its late-usage grace (WALLETS_LATE_USAGE_GRACE_MS after validTo) ended; its remaining units were forfeited.'),
  bundleRenewed: event('wallets', 'bundle', 'renewed', 'BucketCreateEvent', "A subscription's allowances were granted for its next period, with any rollover (prepaid: after its recurring fee was taken from the balance); anchorAt is where its periods run from (a late renewal restarts them); lapsedAt (late renewals only) is where its last paid period had ended; rollover lists the units each allowance carried over into the new period (shared: into the account's pool). data is BundleRenewedData."),
  bucketRolledOver: event('wallets', 'bucket', 'rolledover', 'BucketCreateEvent', "Units rolled over into an allowance period that no bundle.renewed announced: a shared pool wallets renewed on its own cadence carried some, or a session closed after its renewal gave units back that its rollover rule carries into the period (the rollover bucket made then, or grown). quantity is the period's whole rollover for that allowance so far (it only grows): a consumer keeps the largest figure it has seen per owner, allowance and period, so a redelivery or a repeat changes nothing and a later, larger one replaces a smaller one. data is BucketRolledOverData; once per rollover bucket and quantity."),
  bundleFeeDue: event('wallets', 'bundle', 'feedue', 'BalanceThresholdEvent', "A prepaid balance did not cover a bundle's recurring fee (its first period or a renewal): no allowances until a top-up covers it, then they start at once."),
  chargeDue: event('wallets', 'charge', 'due', 'BalanceThresholdEvent', "A prepaid balance did not cover a one-off charge (e.g. the starter pack): it waits, and the next top-up pays it first."),
  budgetReplenished: event('wallets', 'budget', 'replenished', 'TopupBalanceCreateEvent', "An enterprise committed-spend budget fell below its threshold and was replenished; invoicing bills the replenishment (data is BudgetReplenishmentData)."),
  autoTopupRequested: event('wallets', 'autotopup', 'requested', 'TopupBalanceRequestEvent', 'An auto top-up rule asked for a recharge after a low-balance event.'),
  walletClosed: event('wallets', 'wallet', 'closed', 'BalanceStateChangeEvent', "A closed billing account's wallets were closed (from billingaccount.closed): no top-up, recharge, voucher, reservation or charge of usage after closedAt from now on. data is WalletClosedData: the money left on each wallet, which stays on the ledger for finance to pay out once the wallet is settled (payOutWalletBalance, wallet.paidout), once per account; finalAt says when the balance becomes final (closedAt + WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS), announced by wallet.settled."),
  walletSettled: event('wallets', 'wallet', 'settled', 'BalanceStateChangeEvent', "A closed billing account's wallets are settled: the late-usage grace after closedAt (WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS, finalAt) ended, usage from before closedAt arriving now is DENIED WALLET_BALANCE_FINAL and open reservations were given back, so each wallet's balance is final. data is WalletSettledData: the final balance per wallet, the figure for finance to pay out (recorded with payOutWalletBalance: wallet.paidout); a balance below one minor unit either way is written off to the account's ROUNDING ledger account in the settlement (roundingWrittenOff, balance 0); once per account."),
  walletPaidOut: event('wallets', 'wallet', 'paidout', 'BalanceStateChangeEvent', "Finance paid out (part of) a settled closed wallet's final balance to the customer (payOutWalletBalance): the ledger moved it from the wallet to payments clearing. data is WalletPaidOutData: the payout, its outgoing transfer's payoutReference, who recorded it and the balance left (0 when the payout left less than one minor unit, which is written off to the account's ROUNDING ledger account in the same transaction: roundingWrittenOff); once per payout. Subscribers tells the customer (REFUND_SENT)."),
  walletPayoutReturned: event('wallets', 'wallet', 'payoutreturned', 'BalanceStateChangeEvent', "The bank sent a payout back (the account was closed, the name did not match): finance recorded it with returnPayout and the ledger moved the money from payments clearing back to the settled wallet, where it can be paid out again. data is WalletPayoutReturnedData: the payout, the reason, who recorded it and the wallet's balance after; once per payout."),
  rechargeRefused: event('wallets', 'recharge', 'refused', 'TopupBalanceStateChangeEvent', "A bank transfer announced before its billing account closed was confirmed after the closed wallet was settled: nothing was credited (the final balance was already paid out or being paid out), the recharge is REFUSED, and finance must send the money back to the payer directly. data is RechargeRefusedData; once per recharge."),
  upsellOfferStateChanged: event('subscribers', 'upselloffer', 'statechanged', 'UpsellOfferStateChangeEvent', "An upsell offer (from a plan's offer rule) moved: PRESENTED (the customer was told), WITHDRAWN (it could not be offered: reason), ACCEPTED (orderId: the add-on order placed), DECLINED, FAILED (that order failed: reason; the customer may accept again until expiresAt), EXPIRED (nobody answered). data is UpsellOfferStateData; once per state and order."),
  customerBillCreated: event('invoicing', 'customerbill', 'created', 'CustomerBillCreateEvent', "An invoice was issued: data is CustomerBillCreatedData (number, period, totals, state, dueDate and paymentReference since 2027-01-28; since 2027-01-29 creditApplied and amountDue: account credit that pays it in the same transaction, whose ACCOUNT_CREDIT payment follows this event). Usage marks the period's records BILLED; subscribers tells the customer their bill is ready (BILL_ISSUED) and what is left to pay."),
  customerBillStateChanged: event('invoicing', 'customerbill', 'statechanged', 'CustomerBillStateChangeEvent', 'An invoice changed state.'),
  customerBillDunningNotice: event('invoicing', 'customerbill', 'dunningnotice', 'CustomerBillDunningNoticeEvent', "A step of an overdue invoice's dunning the customer must hear of (recordDunningNotice, from the dunning workflow): REMINDER, FINAL_NOTICE (the last before the bar), BARRED (the lines were barred), RESTORED (paid: this dunning's bar lifted). data is CustomerBillDunningNoticeData: the invoice's number, what it still owes, its due date, what comes next and when. Not published for a reminder or bar of an invoice that owes nothing any more; once per step (key = the workflow's step key). Subscribers tells the customer (DUNNING_REMINDER, DUNNING_FINAL_NOTICE, DUNNING_BARRED, DUNNING_RESTORED)."),
  paymentCreated: event('invoicing', 'payment', 'created', 'PaymentCreateEvent', "A payment was recorded on an invoice: data is PaymentCreatedData (channel CARD, BANK_TRANSFER, WALLET, or ACCOUNT_CREDIT: credit the account already had applied by invoicing; since 2027-01-29 the invoice's number, what it still owes, autopay, and the other invoices an overpayment's credit paid). Subscribers tells the customer of money received from them (PAYMENT_RECEIVED; not for ACCOUNT_CREDIT)."),
  paymentUnapplied: event('invoicing', 'payment', 'unapplied', 'PaymentUnappliedEvent', "A bank transfer (receiveBankTransfer) whose reference names no invoice, or more than one, was kept as an unapplied payment (the suspense list) for staff to apply; data names it, its amount, reference, reason code and candidate invoices."),
  paymentUnappliedRefunded: event('invoicing', 'payment', 'unappliedrefunded', 'PaymentUnappliedRefundEvent', "An unapplied payment (the suspense list), or part of it, was paid back to its payer by staff (refundUnappliedPayment; one event per payout, REFUNDED once nothing remains); data names it, the payout (refundId), its bank transaction, the amount paid back, the remainingAmount, payer, the outgoing transfer's payoutReference, refundedBy and refundedAt (the staff note stays in invoicing)."),
  refundCreated: event('invoicing', 'refund', 'created', 'RefundCreateEvent', "Money of a payment went back to the customer (TMF670 Refund): a refund (refundPayment, also one a supervisor approved) or one payment's part of a REFUND credit note; CARD payments are refunded at the card provider (providerRef), other channels are paid out by finance. One event per refund, in the transaction that records it (a replayed request announces nothing again); data is RefundCreatedData: refund, payment, invoice, billing account, amount and currency, reason, refundedBy and refundedByRole, approvedBy and approvalRequestId (approved requests), creditNoteId (REFUND notes), refundedAt, providerRef; reason, who and approval as the refund row holds them (invoicing's GraphQL Refund); invoiceNumber since 2027-01-29. Subscribers tells the customer (REFUND_SENT)."),
  creditNoteCreated: event('invoicing', 'creditnote', 'created', 'CreditNoteCreateEvent', 'A credit note was issued against invoice lines.'),
  approvalRequested: event('invoicing', 'approvalrequest', 'created', 'ApprovalRequestCreateEvent', "An agent's credit note, refund or dispute acceptance above their approval limit awaits a supervisor (four eyes); nothing moved yet."),
  approvalDecided: event('invoicing', 'approvalrequest', 'decided', 'ApprovalRequestStateChangeEvent', 'A supervisor approved (the operation ran once) or rejected an approval request, or approved one whose operation was then refused (FAILED, with failureCode and failureReason; nothing moved); or a request was closed because its subject can no longer take it (FAILED, decidedBy null: its dispute decided otherwise, its draft voided, its invoice line or payment used up).'),
  approvalExpired: event('invoicing', 'approvalrequest', 'expired', 'ApprovalRequestStateChangeEvent', 'An approval request was not decided within LEDGERLINE_APPROVAL_TTL_HOURS: EXPIRED, nothing moved, it can no longer be approved.'),
  disputeOpened: event('invoicing', 'dispute', 'opened', 'DisputeCreateEvent', 'A customer disputed an issued invoice, a line of it or a rated usage record; its amount is held from dunning until the dispute is closed.'),
  disputeEscalated: event('invoicing', 'dispute', 'escalated', 'DisputeEscalationEvent', "An open dispute's review deadline passed and it was escalated to a higher level (once per level)."),
  disputeResolved: event('invoicing', 'dispute', 'resolved', 'DisputeStateChangeEvent', 'A dispute was closed: ACCEPTED (with the credited amount and credit note), REJECTED or WITHDRAWN.'),
  system: event('catalog', 'system', 'ping', 'SystemPingEvent', 'A health probe event, used by end-to-end checks.'),
} as const satisfies Record<string, EventDefinition>;

export type EventName = keyof typeof EVENTS;

/** Usage ingestion subject, partitioned by subscriber so one subscriber's events stay ordered. */
export const USAGE_INGEST_PARTITIONS = 16;
export function usageIngestSubject(partition: number): string {
  return `billing.usage.ingest.p${partition}`;
}

/** One JetStream stream holds every billing event; partners filter by subject. */
export const BILLING_STREAM = { name: 'BILLING', subjects: ['billing.>'] } as const;

export function subjectFor(name: EventName): string {
  return EVENTS[name].subject;
}

/** The ingest partition of a subscriber key (MSISDN or line id): FNV-1a 32-bit mod the partition count. */
export function usagePartitionOf(key: string, partitions: number = USAGE_INGEST_PARTITIONS): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}
