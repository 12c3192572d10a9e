/**
 * Messages services exchange over NATS besides the CloudEvents they publish. Each shape is owned
 * here, once, so producer and consumer cannot drift apart. Money fields are decimal strings.
 */

/** Core-NATS request/reply subjects (online charging must answer in milliseconds, not via a stream). */
export const RPC = {
  /** Network element → usage: Nchf-style charging session (reserve / update / terminate). */
  chargingSession: 'ocs.usage.session',
  /** usage → wallets: reserve units or money for a session. */
  walletReserve: 'ocs.wallets.reserve',
  /** usage → wallets: commit used units of a reservation and release the rest. */
  walletCommit: 'ocs.wallets.commit',
  /** usage → wallets: release a reservation without use. */
  walletRelease: 'ocs.wallets.release',
} as const;

/** JetStream work subjects between services (durable, at-least-once, consumers idempotent). */
export const WORK_SUBJECTS = {
  /** usage → wallets: apply the charge of a rated usage record. */
  chargeRequested: 'billing.usage.charge.requested',
  /** wallets → usage: the outcome of a charge, so the record can move to its final status. */
  chargeApplied: 'billing.wallets.charge.applied',
} as const;

export type PaymentMode = 'PREPAID' | 'POSTPAID';

/** The rated result of one usage record, to be applied to the ledger exactly once. */
export interface ChargeRequest {
  /** Ledger idempotency key: one ledger transaction per usage record, ever. */
  chargeId: string;
  billingAccountId: string;
  lineId: string;
  paymentMode: PaymentMode;
  currency: string;
  usageType: string;
  occurredAt: string;
  /** Chargeable units after increments and rounding, in `unit`. */
  units: string;
  unit: string;
  /** Allowance ids to consume first, in order; units not covered are priced at `pricePerUnit`. */
  allowanceIds: string[];
  /**
   * Price of one unit, up to 10 decimal places (a tiered price's average). Without `amount`, the
   * money part is units x pricePerUnit rounded to 6 places; with it, pricePerUnit only decides how
   * many units a short balance still pays for.
   */
  pricePerUnit: string;
  /**
   * The rated price of all `units` (6 places). When given, the ledger takes exactly this when no
   * allowance covers a unit, and this pro rata to the units left to money otherwise.
   */
  amount?: string;
  /**
   * `USAGE` (default): a rated usage record. `ADJUSTMENT`: a rerate's correction of one (no
   * `allowanceIds`; the allowance units it moves are in `allowanceMoves`; pricePerUnit and amount
   * may be negative: a credit back to the wallet or off what the account owes).
   */
  kind?: 'USAGE' | 'ADJUSTMENT';
  /**
   * ADJUSTMENT only (ADR 0019): allowance units the correction moves, beside its money. Gives back
   * (negative `units`) first, then draws (positive); `amount` is the money delta when every move
   * is made in full. The ChargeResult's `unitsFromAllowances` is what moved: units drawn minus
   * units given back (may be negative).
   */
  allowanceMoves?: AllowanceMove[];
  /** Whether a prepaid balance may go below zero for this charge. */
  allowOverdraft: boolean;
  /** Tariff zone the rater put the record in (e.g. ROAMING_EU); wallets echoes it on the ChargeResult. */
  zone?: string | null;
  /**
   * Set on a late record whose period an invoice already billed: that invoice's id. Wallets echoes
   * it on the ChargeResult; invoicing bills the charge on the next invoice as an adjustment line.
   */
  adjustsInvoiceId?: string | null;
  /**
   * ADJUSTMENT only: the usage record whose rerate correction this is (its chargeId is derived from
   * the record's id and cannot be read back). Wallets echoes it on the ChargeResult; invoicing counts
   * what a billed correction gave back of the record against its disputes, and the reverse.
   */
  usageRecordId?: string | null;
}

/**
 * Allowance units a rerate ADJUSTMENT moves for its usage record (ADR 0019), in the buckets of
 * `allowanceId` that served the record's `occurredAt` (line or shared, as a usage charge draws).
 * - `units` > 0 draws them, as a usage charge would (best bucket first). The units those buckets no
 *   longer hold are charged in money: `uncoveredAmount` (the corrected price of all `units` outside
 *   the allowance, >= 0, 6 places) pro rata, on top of the adjustment's `amount`.
 * - `units` < 0 gives them back, to those buckets (active ones), each at most what it has used; the
 *   part no bucket can take back (the period's bucket has ended) is lost; the money stays as asked.
 * The adjustment is all or nothing: when its money (amount + uncovered part) is more than the
 * wallet may take, it is DENIED and nothing moves.
 */
export interface AllowanceMove {
  allowanceId: string;
  /** The buckets' unit (the record's, e.g. MB). */
  unit: string;
  /** Signed decimal, at most 6 places, not 0. */
  units: string;
  /** Draws only: the money for all `units` outside the allowance. */
  uncoveredAmount?: string;
}

/**
 * APPLIED / PARTIAL / DENIED: the ledger's decision on the charge (the same on every repeat of it).
 * REJECTED: this request was refused without being decided or written: its chargeId was taken by
 * another charge (reason `CHARGE_ID_CONFLICT: …`); the chargeId's own outcome is the one answered
 * for that charge. A consumer settling records by chargeId must not take it for that outcome.
 */
export type ChargeOutcome = 'APPLIED' | 'PARTIAL' | 'DENIED' | 'REJECTED';

/**
 * Published by wallets on `WORK_SUBJECTS.chargeApplied` once a charge is in the ledger: alone
 * (a charge applied through GraphQL, or a committed online-charging reservation - chargeId = the
 * reservation id -, by the outbox) or in a batch (the charge consumer publishes its batch's results
 * in a few messages; see `chargeResultsOf`). Usage moves the record to its final status; invoicing keeps POSTPAID accruals as
 * unbilled charges for the next bill. It repeats the charge's facts so consumers need no lookup.
 */
export interface ChargeResult {
  chargeId: string;
  outcome: ChargeOutcome;
  billingAccountId: string;
  lineId: string;
  paymentMode: PaymentMode;
  usageType: string;
  occurredAt: string;
  units: string;
  unit: string;
  unitsFromAllowances: string;
  amountCharged: string;
  currency: string;
  /** Tariff zone the rater put the record in (e.g. ROAMING_EU, NATIONAL); invoices group usage by it. Optional. */
  zone?: string | null;
  /** Echo of ChargeRequest.adjustsInvoiceId: a late charge for a period an invoice already billed. */
  adjustsInvoiceId?: string | null;
  /** Echo of ChargeRequest.usageRecordId: the usage record a rerate ADJUSTMENT corrects. */
  usageRecordId?: string | null;
  /** Why a charge was denied or cut short, e.g. WALLET_INSUFFICIENT_BALANCE; why a request was REJECTED (CHARGE_ID_CONFLICT). */
  reason?: string;
}

/**
 * `data` of wallets' `bundleRenewed`: a subscription's allowances were granted for its next period.
 * `anchorAt`: where its periods now run from (a renewal late for want of balance restarts them);
 * `lapsedAt` (late renewals only): where its last paid period had ended.
 */
export interface BundleRenewedData {
  subscriptionId: string;
  billingAccountId: string;
  lineId: string;
  planVersionId: string;
  periodStart: string;
  periodEnd: string;
  anchorAt: string;
  lapsedAt: string | null;
  fee: { amount: string; currency: string } | null;
  allowancesGranted: number;
  /**
   * What each allowance's rollover rule carried from the ending period into a bucket of this one
   * (units, decimal string), drawn first. A shared allowance's (`shared: true`) went into the
   * account's pool of the plan version, whose period this renewal opened. Optional: events from
   * before it was added have none, or entries without `shared`.
   */
  rollover?: BundleRolloverData[];
}

export interface BundleRolloverData {
  allowanceId: string;
  quantity: string;
  shared?: boolean;
}

/**
 * `data` of wallets' `bucketRolledOver`: the rollover bucket of an allowance period holds
 * `quantity` units (decimal string: everything carried into that period for the allowance so far,
 * bundle.renewed's `rollover` entry included when there was one). A shared pool's (`shared: true`,
 * `lineId` null) belongs to the account's pool of `planVersionId`. The figure only grows, so the
 * largest one seen per (owner, allowance, periodStart) is the right one, whatever the order.
 */
export interface BucketRolledOverData {
  bucketId: string;
  billingAccountId: string;
  /** The line whose allowance it is; null for a shared pool. */
  lineId: string | null;
  /** The subscription whose period it is, or for a pool the member it was renewed for (null when none is known). */
  subscriptionId: string | null;
  planVersionId: string | null;
  allowanceId: string;
  shared: boolean;
  periodStart: string;
  periodEnd: string;
  quantity: string;
  unit: string;
}

/**
 * The BucketRolledOverData in a bucket.rolledover event's `data`, checked (ids present and short,
 * a positive decimal quantity with at most 6 places, ISO instants, a pool without a line), or
 * undefined when it is not one.
 */
export function parseBucketRolledOver(data: unknown): BucketRolledOverData | undefined {
  const d = data as Partial<BucketRolledOverData> | null | undefined;
  const id = (v: unknown, max: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;
  const instant = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(new Date(v).getTime());
  if (!d || !id(d.bucketId, 100) || !id(d.billingAccountId, 40) || !id(d.allowanceId, 64) || typeof d.shared !== 'boolean' || !instant(d.periodStart) || !instant(d.periodEnd)) return undefined;
  if (d.shared ? !id(d.planVersionId, 40) || d.lineId != null : !id(d.lineId, 40)) return undefined;
  if (typeof d.quantity !== 'string' || !/^\d{1,14}(\.\d{1,6})?$/.test(d.quantity) || !/[1-9]/.test(d.quantity)) return undefined;
  return {
    bucketId: d.bucketId, billingAccountId: d.billingAccountId, lineId: d.shared ? null : (d.lineId as string), subscriptionId: id(d.subscriptionId, 40) ? d.subscriptionId : null,
    planVersionId: id(d.planVersionId, 40) ? d.planVersionId : null, allowanceId: d.allowanceId, shared: d.shared, periodStart: d.periodStart, periodEnd: d.periodEnd, quantity: d.quantity, unit: typeof d.unit === 'string' ? d.unit : '',
  };
}

/** `data` of subscribers' line and subscription events: what usage and invoicing need to know. */
export interface LineStateData {
  lineId: string;
  msisdn: string;
  billingAccountId: string;
  status: 'PENDING' | 'ACTIVE' | 'SUSPENDED' | 'BARRED' | 'TERMINATED';
  /** The line's SIM (ICCID), when one is recorded; a SIM replacement is a line event with the status unchanged and the new SIM here. */
  iccid?: string;
}

export interface SubscriptionData {
  subscriptionId: string;
  lineId: string;
  msisdn: string;
  billingAccountId: string;
  paymentMode: PaymentMode;
  currency: string;
  planCode: string;
  planVersionId: string;
  status: string;
  /** ISO date-times; `endsAt` null while open-ended. */
  startsAt: string;
  endsAt: string | null;
  addOns: { code: string; startsAt: string; endsAt: string | null }[];
}

/**
 * A usage event as published on `usageIngestSubject(usagePartitionOf(msisdn ?? lineId))`, sent
 * to `recordUsage`, or read from a CSV row. Idempotent by (source, eventId). Quantities are decimal
 * strings: seconds (VOICE), messages (SMS/MMS), MB (DATA), items (CONTENT).
 */
export interface UsageEventMessage {
  source?: string;
  eventId: string;
  lineId?: string;
  msisdn?: string;
  usageType: 'VOICE' | 'SMS' | 'MMS' | 'DATA' | 'CONTENT';
  direction?: 'OUTGOING' | 'INCOMING' | 'MO' | 'MT';
  quantity: string;
  occurredAt: string;
  calledNumber?: string;
  roamingCountry?: string;
  visitedMcc?: string;
}

/**
 * `usageSessionOverageUnpaid` (billing.usage.session.overageunpaid): units a PREPAID online session reported past its
 * grant that its balance could not pay for in full. Units are the session's unit (SECOND, MB, ...), amounts decimal
 * strings in `currency`; `chargeableUnits` are the units past the grant after the tariff's increments (what they add
 * to the call), `paidUnits` those the ledger charged (allowance units first, then money down to the wallet's floor),
 * `unpaidUnits` the rest, priced `unpaidAmount` at the session's price per unit. The usage record of those units
 * (`usageRecordId`) keeps `unpaidAmount` and the same figures in its rating trace (`overage`).
 */
export interface UsageOverageUnpaidData {
  usageRecordId: string;
  sessionId: string;
  /** The partner whose session it is; null: the platform's own. */
  partnerId: string | null;
  operation: 'UPDATE' | 'TERMINATE';
  invocationSequenceNumber: number;
  billingAccountId: string;
  lineId: string;
  usageType: string;
  unit: string;
  unitsPastGrant: string;
  chargeableUnits: string;
  paidUnits: string;
  unpaidUnits: string;
  amountCharged: string;
  unpaidAmount: string;
  currency: string;
  /** Why the ledger paid no more: WALLET_INSUFFICIENT_BALANCE, or wallets' refusal code (e.g. WALLET_CLOSED). */
  reason: string;
}

/**
 * Nchf-style result codes of the online charging session API. UNKNOWN_SESSION (RFC 6733's
 * DIAMETER_UNKNOWN_SESSION_ID, 5002): an UPDATE or TERMINATE for a session that does not exist or
 * that another partner opened, or a RESERVE or UPDATE for a session that is closed (TIMED_OUT or
 * CLOSED), answered with nothing granted; usage answers it, wallets never does.
 */
export type ChargingResultCode = 'SUCCESS' | 'QUOTA_LIMIT_REACHED' | 'END_USER_SERVICE_DENIED' | 'USER_UNKNOWN' | 'RATING_FAILED' | 'UNKNOWN_SESSION';

/** usage → wallets on `RPC.walletReserve`: hold units (allowances first, then money) for a session. */
export interface WalletReserveRequest {
  /** Idempotency key of this reserve: a repeated request answers the same reservation, or the same refusal (no balance, wallet closed). */
  requestId: string;
  sessionId: string;
  billingAccountId: string;
  lineId?: string;
  currency: string;
  usageType: string;
  unit: string;
  requestedUnits: string;
  pricePerUnit: string;
  /** Allowance ids to reserve from first, in order. */
  allowanceIds: string[];
  allowOverdraft?: boolean;
  /** How long the reservation holds before it expires (default 300 s). */
  validitySeconds?: number;
  /** Tariff zone the units were rated in; echoed on the ChargeResult of the commit (invoices group usage by it). */
  zone?: string | null;
}

/** Nchf names: what was granted, for how long, and whether these are the last units. */
export interface WalletReserveReply {
  resultCode: ChargingResultCode;
  reservationId?: string;
  grantedUnit?: { unit: string; units: string; unitsFromAllowances: string; amount: string; currency: string };
  /** Seconds the grant is valid. */
  validityTime?: number;
  /** Present when the grant is all that is left: the network terminates after using it. */
  finalUnitIndication?: { finalUnitAction: 'TERMINATE' };
  error?: { code: string; message: string };
}

/** usage → wallets on `RPC.walletCommit`: charge the used units and release the rest. */
export interface WalletCommitRequest {
  reservationId: string;
  usedUnits: string;
  /**
   * The price per unit of the units used, as rated (at most 10 decimals); absent: the reservation's. A reservation is held
   * at the price of the units asked for, which is not proportional to the units when a fixed amount applies (a connection
   * fee, a call credit): the units used are charged at their own price (never more money than was held).
   */
  pricePerUnit?: string;
}

/** usage → wallets on `RPC.walletRelease`: release a reservation without use. */
export interface WalletReleaseRequest {
  reservationId: string;
}

export interface WalletSessionReply {
  resultCode: ChargingResultCode;
  reservationId: string;
  status?: 'RESERVED' | 'COMMITTED' | 'RELEASED' | 'EXPIRED';
  usedUnits?: string;
  /** Of the used units, those taken from allowance buckets (the rest was priced). */
  unitsFromAllowances?: string;
  amountCharged?: string;
  error?: { code: string; message: string };
}

/** `data` of `billingAccountChanged`: the account's terms after the change, and which of them changed. */
export interface BillingAccountChangedData {
  billingAccountId: string;
  /** The customer who owns the account (since 2027-01-29; absent on events from before). */
  customerId?: string;
  paymentMode: 'PREPAID' | 'POSTPAID';
  currency: string;
  /** Decimal string; null: no credit limit. */
  creditLimit: string | null;
  /** Whether a payment-provider token is on file (the token stays in subscribers). */
  autopay: boolean;
  /**
   * The partner (an MVNO) whose customer the account is, as it is after this change (whatever changed); null: none,
   * the operator's own. Usage lets only that partner charge the account's lines online. Since 2027-01-29.
   */
  partnerId?: string | null;
  /**
   * Which assignment of the partner `partnerId` is: 0 as opened (billingaccount.created), one more per change. Of two
   * events, the one with the higher version says the account's partner (times may be equal, events redelivered).
   */
  partnerVersion?: number;
  /** `partnerId`: the partner was assigned, changed or cleared (staff), or the account followed its parent's. */
  changed: ('creditLimit' | 'autopay' | 'partnerId')[];
}

/** `data` of `billingAccountClosed`: the account closed (no live line left), when and why. */
export interface BillingAccountClosedData {
  billingAccountId: string;
  customerId: string;
  /** ISO date-time: the end of the account's final billing period. */
  closedAt: string;
  reason: string;
}

/**
 * `data` of `walletClosed`: a closed billing account's wallets (billingaccount.closed) and the money
 * left on each when wallets closed them, for finance to pay out. `balance` is the wallet's cash
 * (prepaid money; postpaid: money paid in advance); `reserved` is what open reservations still hold
 * (given back to the balance when they end). Usage that occurred before closedAt and arrives later is
 * still charged until `finalAt` (closedAt + the late-usage grace); from then on the balance is final
 * and `walletSettled` carries it: that is the figure to pay out.
 */
export interface WalletClosedData {
  billingAccountId: string;
  customerId: string | null;
  /** ISO date-time: the account's closedAt (subscribers). */
  closedAt: string;
  /** ISO date-time: when the balance becomes final (closedAt + WALLETS_CLOSED_LATE_USAGE_GRACE_HOURS); wallet.settled follows. */
  finalAt: string;
  reason: string | null;
  wallets: { walletId: string; currency: string; paymentMode: PaymentMode; balance: { amount: string; currency: string }; reserved: { amount: string; currency: string } }[];
}

/**
 * `data` of `walletSettled`: a closed billing account's wallets once their late-usage grace ended
 * (`finalAt`): usage from before closedAt arriving later is refused (DENIED WALLET_BALANCE_FINAL)
 * and reservations still open were given back, so each `balance` is final: the amount to pay out
 * (finance records it with payOutWalletBalance: walletPaidOut). Once per account.
 */
export interface WalletSettledData {
  billingAccountId: string;
  /** ISO date-time: the account's closedAt (subscribers). */
  closedAt: string;
  /** ISO date-time: closedAt + the grace; usage arriving from then on is not charged. */
  finalAt: string;
  /** ISO date-time: when wallets settled the wallets (the periodic jobs' first pass at or after finalAt). */
  settledAt: string;
  wallets: {
    walletId: string;
    currency: string;
    paymentMode: PaymentMode;
    balance: { amount: string; currency: string };
    /**
     * Only when the wallet was settled holding less than one minor unit of its currency either way
     * (0.007 EUR, or owing 0.004): that residue, written off to the account's ROUNDING ledger account
     * in the settlement's transaction; `balance` is then 0.
     */
    roundingWrittenOff?: { amount: string; currency: string };
  }[];
}

/**
 * `data` of `walletPaidOut`: money of a settled closed wallet paid back to the customer by finance
 * (payOutWalletBalance): `amount` left the wallet (ledger: − wallet, + PAYMENTS_CLEARING) under the
 * outgoing transfer's `payoutReference`; `balanceAfter` is what is left to pay out (0 once all of it
 * is, a sub-minor residue written off: `roundingWrittenOff`). Once per payout (key = the payout id).
 */
export interface WalletPaidOutData {
  payoutId: string;
  walletId: string;
  billingAccountId: string;
  amount: { amount: string; currency: string };
  balanceAfter: { amount: string; currency: string };
  payoutReference: string;
  /** Who recorded it (the caller's subject) and as what role. */
  paidOutBy: string;
  paidOutByRole: string;
  /** ISO date-time. */
  paidOutAt: string;
  /**
   * Only when the payout left less than one minor unit on the wallet (9.97 of 9.977 EUR): that residue,
   * which no payout can take, written off to the account's ROUNDING ledger account in the payout's
   * transaction; `balanceAfter` is then 0.
   */
  roundingWrittenOff?: { amount: string; currency: string };
}

/**
 * `data` of `walletPayoutReturned`: a payout the bank sent back, recorded by finance (returnPayout):
 * `amount` (the whole payout) is back on the wallet (ledger: + wallet, − PAYMENTS_CLEARING);
 * `balanceAfter` is what can be paid out again. Once per payout (key = the payout id).
 */
export interface WalletPayoutReturnedData {
  payoutId: string;
  walletId: string;
  billingAccountId: string;
  amount: { amount: string; currency: string };
  balanceAfter: { amount: string; currency: string };
  /** The returned transfer's reference (the payout's). */
  payoutReference: string;
  returnReason: string;
  /** Who recorded the return (the caller's subject) and as what role. */
  returnedBy: string;
  returnedByRole: string;
  /** ISO date-time. */
  returnedAt: string;
}

/**
 * `data` of `walletCreditOwed`: a credit owed to the customer reached a closed wallet after its
 * settlement (wallet.settled had given finance the final balance): it was recorded as owed (ledger
 * kind CREDIT_OWED: − revenue, + the settled wallet) and nothing was paid from it, so finance pays
 * `amount` out too (payOutWalletBalance); `balanceAfter` is what the wallet now holds to pay out.
 * `source` says what it was: ONE_OFF_CREDIT (subscribers' one-off CREDIT, `sourceId` its chargeId)
 * or BUNDLE_REFUND (a bundle's unused days, `sourceId` its ledger key). Once per credit.
 */
export interface WalletCreditOwedData {
  walletId: string;
  billingAccountId: string;
  source: 'ONE_OFF_CREDIT' | 'BUNDLE_REFUND';
  sourceId: string;
  reason: string;
  amount: { amount: string; currency: string };
  balanceAfter: { amount: string; currency: string };
  /** The ledger transaction that recorded it. */
  transactionId: string;
  /** ISO date-times: when the wallet was settled, and when the credit was recorded. */
  settledAt: string;
  recordedAt: string;
}

/**
 * `data` of `chargeRefused`: a prepaid one-off charge (or the part of it) a closed wallet will never
 * collect, which invoicing bills to the account instead (once per chargeId) or holds for finance to
 * bill or write off. `refusal` says why:
 * WALLET_SETTLED (after the settlement, or a charge still due at the settlement: no top-up can come
 * to pay it, `dueSince` when it was left waiting), WALLET_CLOSED (incurred at or after closedAt),
 * WALLET_BALANCE_FINAL (arrived from finalAt on, before the settlement). `amount` is what is refused,
 * the amount to bill: a charge still due at the settlement is first paid from what the wallet holds
 * (oldest first, whole minor units), and only the rest is refused (`collected` the part taken,
 * `chargeAmount` the whole charge; since 2026-11-29, thirtieth session: before, the whole charge was
 * refused while the wallet's balance was paid out). The ledger keeps the decision under
 * `CHARGE:<chargeId>` (`transactionId`: no entries, or the part collected). Once per charge.
 */
export interface ChargeRefusedData {
  chargeId: string;
  billingAccountId: string;
  walletId: string;
  lineId: string | null;
  /** The one-off's reason (ADD_ON_PURCHASE, STARTER_PACK, …) and text. */
  reason: string;
  description: string | null;
  /** What is refused: the charge, or what is left of it once the settlement took what the wallet held. The amount to bill. */
  amount: { amount: string; currency: string };
  /** The whole charge as it was made (absent in events written before 2026-11-29: the whole charge was `amount`). */
  chargeAmount?: { amount: string; currency: string };
  /** What the wallet paid towards it at its settlement (0: nothing; absent in events written before 2026-11-29). */
  collected?: { amount: string; currency: string };
  refusal: 'WALLET_CLOSED' | 'WALLET_BALANCE_FINAL' | 'WALLET_SETTLED';
  refusedBecause: string;
  /** ISO date-time the charge was left due for want of balance; null: refused when it arrived. */
  dueSince: string | null;
  transactionId: string;
  /** ISO date-times: the account's close, the settlement (null before it), and the refusal. */
  closedAt: string;
  settledAt: string | null;
  refusedAt: string;
}

/**
 * `data` of `rechargeRefused`: a bank transfer confirmed after its closed wallet was settled. The
 * money arrived (bankReference) but nothing was credited: finance returns it to the payer directly.
 * Once per recharge (key = the recharge id).
 */
export interface RechargeRefusedData {
  rechargeId: string;
  billingAccountId: string;
  walletId: string;
  amount: { amount: string; currency: string };
  method: 'BANK_TRANSFER';
  bankReference: string;
  /** The refusal's code (WALLET_SETTLED) and message. */
  code: string;
  reason: string;
  /** ISO date-time. */
  refusedAt: string;
}

/**
 * `data` of `rechargeRefundFailed`: a card recharge whose card was captured, whose wallet credit was
 * refused (nothing credited) and whose refund the payment provider refused for good (card closed,
 * refund window passed). The customer paid `amount` and got nothing back: staff return it (or credit
 * the wallet by hand). Once per recharge (key = the recharge id).
 */
export interface RechargeRefundFailedData {
  rechargeId: string;
  billingAccountId: string;
  walletId: string;
  amount: { amount: string; currency: string };
  method: 'CARD';
  channel: string;
  /** The Recharge workflow (its history has the refusals). */
  workflowId: string;
  /** The provider's capture that took the money; null when the workflow did not name it. */
  captureId: string | null;
  /** RECHARGE_REFUND_FAILED. */
  code: string;
  /** ISO date-time the recharge was recorded REFUND_FAILED. */
  failedAt: string;
}

/**
 * `data` of `rechargeResolved`: staff closed a REFUND_FAILED card recharge (resolveRefundFailedRecharge) once they had
 * sorted out the customer's money: REFUNDED_OUTSIDE (returned outside the provider's refund: nothing moved here) or
 * CREDITED (the wallet credited `amount` after all: `transactionId` is that TOPUP, also announced by balance.topup).
 * Staff's note (the bank's or provider's reference, a ticket) is internal: kept in wallets' audit (the recharge row,
 * staff's GraphQL view) and never in this event, which reaches the account's partner hubs (removed 2026-11-30). Once
 * per recharge (key = the recharge id).
 */
export interface RechargeResolvedData {
  rechargeId: string;
  billingAccountId: string;
  walletId: string;
  amount: { amount: string; currency: string };
  resolution: 'REFUNDED_OUTSIDE' | 'CREDITED';
  /** Who resolved it: the signed caller's subject and role. */
  resolvedBy: string;
  resolvedByRole: string;
  /** ISO date-time. */
  resolvedAt: string;
  /** CREDITED: the ledger transaction that credited the wallet; REFUNDED_OUTSIDE: null. */
  transactionId: string | null;
}

/**
 * `data` of `upsellOfferStateChanged`: an upsell offer's state after a change. `price` is what the
 * customer is offered (the catalog's price when it was presented). `reason`: why it was WITHDRAWN
 * or FAILED. `orderId`: the add-on order an acceptance placed (ACCEPTED, FAILED). Key = offer id,
 * state and order, so each state is announced once (an offer that fails, is accepted again and
 * fails again announces each order's failure).
 */
export interface UpsellOfferStateData {
  offerId: string;
  lineId: string;
  billingAccountId: string;
  offerCode: string;
  offerName: string;
  price: { amount: string; currency: string };
  /** The usage period (allowance period) whose usage triggered it, and the plan rule that fired. */
  period: string;
  rule: string;
  state: 'PRESENTED' | 'WITHDRAWN' | 'ACCEPTED' | 'DECLINED' | 'FAILED' | 'EXPIRED';
  reason: string | null;
  orderId: string | null;
  /** ISO date-times: until when it may be accepted, and when it reached this state. */
  expiresAt: string;
  changedAt: string;
}

/**
 * `data` of `addOnEnded`: an add-on purchase ended before its validity ran out (subscribers'
 * `endAddOn`). The purchase is the ADD_ON order `purchaseOrderId` (line, offer and `startsAt`, as
 * usage counts it); it was sold until `endsAt` and is valid only until `endedAt` now. `grantKeys`:
 * the keys its allowance buckets were granted under in wallets (`addon:<purchaseOrderId>:<allowance>`),
 * which wallets revokes. `refund`: the unused part of its price, sent as the CREDIT one-off
 * `creditChargeId` (null when nothing is left to refund). Key = the purchase: once per purchase.
 */
export interface AddOnEndedData {
  /** The ADD_ON_END order that ended it. */
  orderId: string;
  purchaseOrderId: string;
  lineId: string;
  billingAccountId: string;
  subscriptionId: string;
  offerCode: string;
  /** ISO date-times. */
  startsAt: string;
  endsAt: string;
  endedAt: string;
  reason: string | null;
  grantKeys: string[];
  refund: { amount: string; currency: string };
  creditChargeId: string | null;
}

/** `data` of `offerPublished`: an add-on offer as it is sold from now on (`action`: CREATED or UPDATED). */
export interface OfferPublishedData {
  code: string;
  name: string;
  action: 'CREATED' | 'UPDATED';
  price: { amount: string; currency: string };
  validityDays: number;
  /** Plan codes it may be bought on; empty = any. */
  compatiblePlans: string[];
  /** ISO date-time. */
  publishedAt: string;
}

/** `data` of `offerRetired`: an add-on offer no longer sold; `reason` as the editor gave it. */
export interface OfferRetiredData {
  code: string;
  reason: string;
  /** ISO date-time. */
  retiredAt: string;
}

/** `data` of `oneOffChargeCreated`: one item for invoicing to put on the account's next bill. */
export interface OneOffChargeData {
  chargeId: string;
  billingAccountId: string;
  lineId: string | null;
  subscriptionId: string | null;
  orderId: string | null;
  /** CHARGE (amount > 0) or CREDIT (amount < 0). */
  kind: 'CHARGE' | 'CREDIT';
  reason: 'PLAN_CHANGE_PRORATION' | 'ACTIVATION_FEE' | 'PLAN_CHANGE_FEE' | 'SIM_REPLACEMENT_FEE' | 'TERMINATION_FEE' | 'ADD_ON_PURCHASE';
  /** Decimal string rounded to the currency's minor unit; negative for a credit. */
  amount: string;
  currency: string;
  /** What the bill shows; at most ONE_OFF_DESCRIPTION_MAX characters (`oneOffDescription`). */
  description: string;
  /** Local dates (account time zone) the item covers, end exclusive; null for a fee. */
  periodStart: string | null;
  periodEnd: string | null;
  /** ISO date-time at which the item was incurred. */
  chargedAt: string;
}

/**
 * Characters (code points, as PostgreSQL's varchar counts them) of a one-off charge's
 * `description`, at most: subscribers writes none longer (`oneOffDescription`), invoicing stores and
 * bills one this long whole (its one_off_charge.description holds as many), and the catalog reports
 * a plan fee whose name would make a longer one (FEE_NAME_TOO_LONG, `planFeeDescription`). A
 * consumer never drops a charge for its description: a longer one is cut as `oneOffDescription` does.
 */
export const ONE_OFF_DESCRIPTION_MAX = 300;

/** `text` in at most `max` characters (code points): whole when it fits, else cut, its last character "…". */
export function cutText(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** A one-off charge's description as the event carries it: `text`, cut to ONE_OFF_DESCRIPTION_MAX (marked "…"). */
export const oneOffDescription = (text: string): string => cutText(text, ONE_OFF_DESCRIPTION_MAX);

/** The longest MSISDN a line has (E.164: "+" and 15 digits), for the longest description of a plan fee. */
export const LONGEST_MSISDN = `+${'9'.repeat(15)}`;

/** What a PLAN_CHANGE fee's description ends with: the plan moved onto, "(to Family Share 50 GB)". */
export const planChangeWording = (planName: string): string => `(to ${planName})`;

/**
 * A plan fee's charge as the bill and the customer's SMS show it, uncut: "Starter pack for +4915…",
 * "Plan change fee for +4915… (to Family Share 50 GB)" (`wording`: `planChangeWording`). Subscribers
 * sends it through `oneOffDescription`; the catalog measures it with LONGEST_MSISDN.
 */
export const planFeeDescription = (feeName: string, msisdn: string, wording?: string | null): string => `${feeName} for ${msisdn}${wording ? ` ${wording}` : ''}`;

/**
 * `data` of `budgetReplenished`: an enterprise committed-spend budget was topped up by its
 * replenishment amount; invoicing issues one invoice per replenishmentId (idempotent).
 */
export interface BudgetReplenishmentData {
  replenishmentId: string;
  budgetId: string;
  billingAccountId: string;
  /** Decimal string in the budget's currency, > 0. */
  amount: string;
  currency: string;
  /** The budget's balance after the replenishment. */
  remaining: string;
  /** ISO date-time of the replenishment. */
  replenishedAt: string;
}

/**
 * `data` of `refundCreated` (invoicing, TMF670 Refund): money of a payment given back to the customer.
 * Once per refund (key and CloudEvent subject = `refundId`). `amount` is a decimal string in the
 * currency's minor units, > 0; it is taken off the payment (its refundedAmount grows by it).
 */
export interface RefundCreatedData {
  refundId: string;
  paymentId: string;
  /** The invoice the payment paid; null for a payment of none. */
  invoiceId: string | null;
  billingAccountId: string;
  /** The refunded payment's channel: CARD is refunded at the provider, the others are paid out by finance. */
  channel: 'CARD' | 'BANK_TRANSFER' | 'WALLET' | 'ACCOUNT_CREDIT';
  amount: string;
  currency: string;
  /** Why: the refund's reason (null when none was given), the REFUND credit note's or the approval request's. */
  reason: string | null;
  /** The REFUND credit note this refund pays out; null for a refund of the payment itself. */
  creditNoteId: string | null;
  /** Who made it (the caller; an approved request's requester); null when not known. */
  refundedBy: string | null;
  /**
   * That caller's role (AGENT, ADMIN, SYSTEM; CUSTOMER); null when not known. Events from before 2027-01
   * lack it. Reason, who and approval are the refund row's (invoicing's GraphQL Refund says the same).
   */
  refundedByRole?: string | null;
  /** The supervisor who approved the request it carries out, and that request; null when none was needed. */
  approvedBy: string | null;
  approvalRequestId: string | null;
  /** ISO date-time at which it was recorded. */
  refundedAt: string;
  /** The card provider's refund reference (CARD); null for other channels. */
  providerRef: string | null;
  /** The number of the invoice the payment paid, as the customer knows it; null for none. Optional: added 2027-01-29. */
  invoiceNumber?: string | null;
  /**
   * Optional, added 2027-01-30 (customer messages; absent on older events): whether this refund gave back money
   * paid on the invoice so that it owes it again (false: it came out of the payment's kept credit, or a REFUND
   * credit note lowered the invoice by as much), what the invoice then owes once account credit paid what it
   * could (decimal string in the currency's minor unit; null for a payment of no invoice) and the ISO instant
   * it is due (null for none). The event is written after the invoice is reopened, so these are its facts.
   */
  reopened?: boolean;
  amountDue?: string | null;
  dueDate?: string | null;
  /**
   * Optional, added 2027-02 (absent on older events): what the account's autopay does with what a reopened
   * invoice owes again. 'DUE_DATE': its due-date card charge has not been made yet (reopened before its due
   * date), so the card on file is charged what it owes then; 'NONE': the account has autopay but the card is
   * not charged for it automatically (reopened on or after its due date: the refund is not taken back from
   * the card; it is dunned, the customer pays it); absent: not reopened, or the account has no autopay.
   */
  autopayCharge?: 'DUE_DATE' | 'NONE' | null;
  /**
   * Optional, added 2027-02 (absent on older events): with 'DUE_DATE', set when money refunded on or after the
   * due date is left out of the due-date card charge (a refund after the due date, before autopay's due-date
   * pass ran): the card on file is charged this much (decimal string, minor unit), the rest of `amountDue`
   * is not charged to it (the customer pays it; dunned). Absent: the charge takes all it owes then.
   */
  autopayAmount?: string | null;
}

/**
 * `data` of `creditNoteCreated` (invoicing): a credit note issued against an invoice's lines. Once per note
 * (key and CloudEvent subject = `creditNoteId`). Money as decimal strings in the currency's minor unit.
 * `kind`: CREDIT lowers what the invoice asks for (what of it was already paid becomes account credit),
 * OFFSET puts the amount on the account's credit (which pays open invoices at once, then later ones),
 * REFUND pays it back (each payment's part is its own refund.created). The staff's reason stays in invoicing.
 */
export interface CreditNoteCreatedData {
  creditNoteId: string;
  /** The note's number as the customer sees it (CN-…). */
  number: string;
  invoiceId: string;
  billingAccountId: string;
  kind: 'CREDIT' | 'OFFSET' | 'REFUND';
  total: string;
  taxTotal: string;
  currency: string;
  lines: { invoiceLineId: string; amount: string; taxAmount: string }[];
  /** Optional, added 2027-01-30 (customer messages; absent on older events): the credited invoice's number. */
  invoiceNumber?: string | null;
  /** Optional, added 2027-01-30: what of the note became account credit (OFFSET: all of it; CREDIT: the part already paid; REFUND: 0). */
  creditAmount?: string;
  /** Optional, added 2027-01-30: what the invoice still owes once the note (and account credit it brought) is applied, and the ISO instant it is due. */
  amountDue?: string;
  dueDate?: string | null;
  /**
   * Optional, added 2027-01-30: why, as a category the customer may be told (never the staff's reason):
   * DISPUTE_ACCEPTED (a dispute decided for the customer), CHARGE_WAIVED (a one-off charge waived),
   * ACCOUNT_CLOSED (since 2026-11-29: the fees the invoice billed for the days after the account was closed,
   * given back; `accountClosedAt` says from when); null for a note staff issued otherwise.
   */
  cause?: CreditNoteCause | null;
  /**
   * Optional, added 2026-11-29: with cause ACCOUNT_CLOSED, the ISO instant the account was closed (the note
   * credits the invoice's fees from then to the end of its period); null otherwise.
   */
  accountClosedAt?: string | null;
  /**
   * Optional, added 2026-11-29: true for a closure note issued in the same transaction as its invoice (a draft
   * issued past its account's closure): that invoice's customerbill.created names it (`closureCredit`) and says
   * what is then due, so subscribers sends no message of its own for it. False for any other note (a closure
   * note on an invoice issued earlier is told on its own).
   */
  issuedWithInvoice?: boolean | null;
  /**
   * Optional, added 2027-01-31: the dispute whose acceptance issued this note (its own credit, key `dispute:<id>`);
   * null for any other note, also a staff note that covered a dispute. Its dispute.resolved (`creditNote`) tells the
   * customer what the note does, so subscribers sends no message of its own for it.
   */
  disputeId?: string | null;
}

/** Why a credit note was issued, as a customer may be told it. */
export type CreditNoteCause = 'DISPUTE_ACCEPTED' | 'CHARGE_WAIVED' | 'ACCOUNT_CLOSED';

/**
 * `data` of `paymentCreated` (invoicing, TMF670 Payment): a payment was recorded on an invoice. Once per
 * payment (key and CloudEvent subject = `paymentId`). Money as decimal strings in the currency's minor unit.
 * Channel ACCOUNT_CREDIT is invoicing applying credit the account already had (an overpayment, a credit
 * note, a negative invoice) to an open invoice: no money came from the customer in it.
 */
export interface PaymentCreatedData {
  paymentId: string;
  billingAccountId: string;
  invoiceId: string;
  channel: 'CARD' | 'BANK_TRANSFER' | 'WALLET' | 'ACCOUNT_CREDIT';
  /** All the money received; `appliedAmount` of it paid the invoice, `creditAmount` (above what it owed) became account credit. */
  amount: string;
  appliedAmount: string;
  creditAmount: string;
  currency: string;
  /** The invoice's state after the payment (SETTLED, PARTIALLY_PAID, or ON_HOLD while a dispute holds it). */
  invoiceState: string;
  /** Optional, added 2027-01-29 (customer messages): the invoice's number. */
  invoiceNumber?: string | null;
  /** Optional, added 2027-01-29: what the invoice still owes after this payment (0: paid in full), disputed part included. */
  amountDue?: string;
  /** Optional, added 2027-01-29: the part of `amountDue` a dispute holds (not asked for until it is decided). */
  amountDisputed?: string;
  /** Optional, added 2027-01-29: true when invoicing charged the card on file itself (autopay on the due date, a dispute's release). */
  autopay?: boolean;
  /**
   * Optional, added 2027-01-29: the other open invoices the `creditAmount` paid in the same transaction
   * (account credit applied, oldest due first; each also has its own ACCOUNT_CREDIT payment.created after this one).
   */
  creditApplied?: { invoiceId: string; invoiceNumber: string | null; amount: string; amountDue: string }[];
  /** Optional, added 2027-01-29: the account credit left after that (what the account keeps for its next bills). */
  creditLeft?: string;
  /** Optional, added 2027-01-29: ISO instant it was recorded. */
  paidAt?: string;
}

/**
 * `data` of `balanceTopup` (wallets, TMF654 TopupBalance): a prepaid wallet was credited with money: a
 * top-up (staff, or a card recharge's credit step: channel PAYMENT), a confirmed bank-transfer recharge
 * (BANK_TRANSFER) or a redeemed voucher (VOUCHER). Once per credit (key = the ledger transaction `id`).
 */
export interface TopupBalanceData {
  /** The ledger transaction of the credit. */
  id: string;
  walletId: string;
  billingAccountId: string;
  /** Decimal string: what was credited. */
  amount: string;
  currency: string;
  /** The recharge id (card recharges), the bank reference (transfers), the voucher id, or the caller's reference. */
  reference: string | null;
  /** PAYMENT, BANK_TRANSFER or VOUCHER. */
  channel: string;
  /**
   * Optional, added 2027-01-29 (customer messages): the balance once this credit and the one-off charges
   * waiting for a top-up that it paid in the same transaction (`duePaid`) are on the ledger; since 2027-01-31 read
   * after a budget replenishment in that transaction (`replenished`), before it was the balance before it.
   */
  balance?: { amount: string; currency: string };
  /**
   * Optional, added 2027-01-29: the due charges paid in the same transaction (0 when none); since 2027-01-31 also
   * those a committed-spend budget's replenishment set off by the credit paid.
   */
  duePaid?: string;
  /**
   * Optional, added 2027-01-31: what the wallet's committed-spend budget was replenished with in the same transaction
   * (paying due charges with the budget's headroom took it below its threshold; 0 when none). `balance` is after it.
   */
  replenished?: string;
}

/**
 * `data` of `customerBillCreated` (invoicing, TMF678 CustomerBill): an invoice was issued (numbered, SENT, or
 * SETTLED at once when its total is not above zero). Once per invoice (key and CloudEvent subject = `invoiceId`).
 * Usage marks the period's records BILLED from it; subscribers tells the customer their bill is ready.
 */
export interface CustomerBillCreatedData {
  invoiceId: string;
  /** The invoice's number as the customer sees it. */
  number: string;
  billingAccountId: string;
  /** SENT, or SETTLED when the total is zero or negative (a negative total is kept as account credit). */
  state: string;
  /** ISO instants: the billed period, its end exclusive (local midnights of the account's time zone). */
  periodStart: string;
  periodEnd: string;
  currency: string;
  /** Decimal strings in the currency's minor unit; `total` is net + tax (below zero: a credit). */
  netTotal: string;
  taxTotal: string;
  total: string;
  /** Unrounded sum of the POSTPAID usage charges this invoice bills (unbilled → invoiced). */
  usageAmount: string;
  usageRecords: number;
  /** ISO instant the invoice is due (issued + the account's payment terms). Optional: added 2027-01-28. */
  dueDate?: string | null;
  /** The reference a bank transfer pays it by (recordPayment / receiveBankTransfer match it). Optional: added 2027-01-28. */
  paymentReference?: string | null;
  /**
   * Optional, added 2027-01-29: account credit the account had (an overpayment, a credit note, a negative
   * invoice) that pays this invoice in the same transaction it is issued in (its ACCOUNT_CREDIT payment.created
   * follows this event), and what is then left to pay of `total` (0: nothing to pay). Absent on older events.
   */
  creditApplied?: string;
  /** Since 2026-11-29 also net of `closureCredit`: what is left once the closure note and account credit are applied. */
  amountDue?: string;
  /**
   * Optional, added 2026-11-29: a draft billed past its account's closure is credited the fees of the days after
   * it in the transaction that issues it (a CREDIT note, cause ACCOUNT_CLOSED, before account credit pays what is
   * left). That note; its creditnote.created (`issuedWithInvoice` true) is told to the customer by this bill's message
   * only. It follows this event, as does the invoice's customerbill.statechanged the note brings (`state` here is the
   * state the invoice was issued in; since 2026-11-29, thirtieth session: before, the note's events came first and
   * `state` was the one after the note). Null or absent: no such note.
   */
  closureCredit?: BillClosureCredit | null;
}

/** The closure credit note issued with a bill (CustomerBillCreatedData.closureCredit). Money in the currency's minor unit. */
export interface BillClosureCredit {
  creditNoteId: string;
  number: string;
  /** The note's total (tax included): what it takes off the bill's `total`. */
  amount: string;
  /** ISO instant the account was closed: the bill's fees from then to the end of its period are credited. */
  accountClosedAt: string;
}

/** What a dunning notice is about (`customerBillDunningNotice`). */
export type DunningNoticeKind = 'REMINDER' | 'FINAL_NOTICE' | 'BARRED' | 'RESTORED';

/**
 * `data` of `customerBillDunningNotice` (invoicing): a step of an overdue invoice's dunning, for the
 * customer. The invoice's facts are invoicing's when the step was recorded; what comes next is the
 * dunning policy's, as the workflow had it then (a dispute or a late worker moves it later).
 */
export interface CustomerBillDunningNoticeData {
  invoiceId: string;
  /** The invoice's number as the customer sees it, and the reference a bank transfer pays it by. */
  number: string;
  paymentReference: string;
  billingAccountId: string;
  notice: DunningNoticeKind;
  /** REMINDER and FINAL_NOTICE: 1, 2, … in the policy's order; null otherwise. */
  level: number | null;
  currency: string;
  /** Decimal string: what the invoice still owes (0 for RESTORED). */
  amountDue: string;
  /** ISO instant the invoice was due. */
  dueDate: string;
  /** A late fee the policy adds later if it stays unpaid (amount in `currency`, ISO instant); null when none is to come. */
  lateFee: { amount: string; at: string } | null;
  /** ISO instant the lines will be barred if it stays unpaid; null when no bar is to come (BARRED, RESTORED, a reminder after the bar). */
  barAt: string | null;
  /** RESTORED: how many lines this dunning's hold lifted switched back on (a line another unpaid invoice holds stays barred); null otherwise. */
  linesResumed: number | null;
  /** The step's key (`<dunning workflow id>:<step>`): the event's id is derived from it. */
  stepKey: string;
}

/** `data` of `disputeOpened` (invoicing): a customer or an agent disputed an issued invoice, a line of it or a usage record. */
export interface DisputeOpenedData {
  disputeId: string;
  invoiceId: string;
  billingAccountId: string;
  invoiceLineId: string | null;
  usageRecordId: string | null;
  /** Decimal string in the currency's minor unit, > 0. */
  amount: string;
  currency: string;
  reason: string;
  /** The invoice's number as the customer sees it (events from before 2026-11-27 lack it). */
  invoiceNumber?: string | null;
}

/** `data` of `disputeResolved` (invoicing): a dispute closed. */
export interface DisputeResolvedData {
  disputeId: string;
  invoiceId: string;
  billingAccountId: string;
  status: 'ACCEPTED' | 'REJECTED' | 'WITHDRAWN';
  /** The disputed amount, decimal string in the currency's minor unit. */
  amount: string;
  currency: string;
  /** ACCEPTED: what the credit note credited (less than `amount`: partly upheld); otherwise null. */
  creditedAmount: string | null;
  creditNoteId: string | null;
  /**
   * Who or what closed it. `rerate:<chargeId>` (ACCEPTED, no credit note): a billed re-rate correction of the
   * disputed usage record, credited as a line of the account's next invoice, not on this one (subscribers words it so).
   */
  decidedBy: string;
  /** The decision's note (an agent's, the customer is told it); none for a withdrawal. Optional: added 2026-11-27. */
  decisionNote?: string | null;
  /** The invoice's number as the customer sees it. Optional: added 2026-11-27. */
  invoiceNumber?: string | null;
  /**
   * The state the invoice is released to from its dispute hold (its state if not held; SETTLED: already paid, also
   * when paid during the hold, so a credit is account credit and nothing is due again): read before the decision's or
   * a covering credit note's credit; for a withdrawal, a re-rate correction or resolveDispute, once the hold went down.
   * Never ON_HOLD since 2026-11-28. Optional: added 2026-11-28; absent (an older event), the message says "due again".
   */
  invoiceState?: string | null;
  /**
   * Optional, added 2027-01-31: ACCEPTED by a decision, the credit note that decision issued (creditnote.created
   * names this dispute and is not told apart): its number, what of it became account credit (the part already
   * paid), what the invoice owes once the note is applied and the dispute's hold is down, and when that is due.
   * Null otherwise (also for a note that covered the dispute without being issued for it: told as a note).
   */
  creditNote?: DisputeCreditNote | null;
}

/** What an accepted dispute's own credit note did (DisputeResolvedData.creditNote). Money as decimal strings in the currency's minor unit. */
export interface DisputeCreditNote {
  number: string;
  creditAmount: string;
  amountDue: string;
  /** ISO instant; null when the invoice has none. */
  dueDate: string | null;
}

/**
 * The ChargeResults in the body of a `WORK_SUBJECTS.chargeApplied` message: one result, an array
 * of results, or either wrapped in a CloudEvent's `data`. Entries that are not ChargeResults are
 * left out (`invalid` counts them), so one bad entry never costs the others.
 */
export function chargeResultsOf(body: unknown): { results: ChargeResult[]; invalid: number } {
  const value = body && typeof body === 'object' && 'specversion' in body ? (body as { data?: unknown }).data : body;
  const list = Array.isArray(value) ? value : [value];
  const results = list.filter((r): r is ChargeResult => !!r && typeof r === 'object' && typeof (r as ChargeResult).chargeId === 'string' && typeof (r as ChargeResult).outcome === 'string');
  return { results, invalid: list.length - results.length };
}

/**
 * The ChargeRequests in the body of a `WORK_SUBJECTS.chargeRequested` message: one request or a
 * JSON array of them (usage publishes its batches so). Entries that are not objects with a
 * `chargeId` are left out (`invalid` counts them); the ledger validates the rest one by one.
 */
export function chargeRequestsOf(body: unknown): { requests: ChargeRequest[]; invalid: number } {
  const list = Array.isArray(body) ? body : [body];
  const requests = list.filter((r): r is ChargeRequest => !!r && typeof r === 'object' && typeof (r as ChargeRequest).chargeId === 'string');
  return { requests, invalid: list.length - requests.length };
}

/**
 * Charges (requests from usage, results from wallets) per message: ~100 KB, far below NATS's 1 MB
 * payload limit. Both sides cut their batches with `inChargeMessages`.
 */
export const CHARGES_PER_MESSAGE = 250;

/** A batch cut into the groups that each become one message, in order. */
export function inChargeMessages<T>(items: T[]): T[][] {
  const groups: T[][] = [];
  for (let i = 0; i < items.length; i += CHARGES_PER_MESSAGE) groups.push(items.slice(i, i + CHARGES_PER_MESSAGE));
  return groups;
}

