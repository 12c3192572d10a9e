// The external systems activities talk to. Activities depend on these interfaces only, so tests
// pass in-memory fakes and production passes the GraphQL clients and a real payment provider.
// Every call that moves money or creates a record takes an idempotency key: same key, same result.

/** Passed by activities so a hung call ends when the activity is cancelled or times out. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface AuthorizeRequest {
  paymentMethodToken: string;
  amount: string;
  currency: string;
  reference: string;
  idempotencyKey: string;
}
export interface Authorization {
  authorizationId: string;
  amount: string;
  currency: string;
}

export interface CaptureRequest {
  authorizationId: string;
  amount: string;
  currency: string;
  idempotencyKey: string;
}
export interface Capture {
  captureId: string;
  amount: string;
  currency: string;
}

export interface VoidRequest {
  authorizationId: string;
  idempotencyKey: string;
}
/**
 * A void of whatever an authorize made under its key, for an authorize whose answer never came
 * (every try lost, or the workflow cancelled while it was on its way): its authorization id is unknown.
 */
export interface VoidByAuthorizeKeyRequest {
  /** The idempotency key the authorize was asked with. */
  authorizeKey: string;
  idempotencyKey: string;
}
export interface RefundRequest {
  captureId: string;
  amount: string;
  currency: string;
  idempotencyKey: string;
}

/**
 * A card/wallet payment provider. Declines throw DomainError('PAYMENT_DECLINED') (not retryable);
 * outages throw a retryable error. Void and refund are the compensations and must be idempotent.
 * A void of an authorization that was captured (a capture whose answers were all lost) throws
 * DomainError('AUTHORIZATION_CAPTURED') with the capture's id in `details.captureId`: the card is
 * charged, and the caller goes on with that capture.
 */
export interface PaymentProvider {
  authorize(req: AuthorizeRequest, opts?: CallOptions): Promise<Authorization>;
  capture(req: CaptureRequest, opts?: CallOptions): Promise<Capture>;
  void(req: VoidRequest, opts?: CallOptions): Promise<{ voidId: string }>;
  /**
   * Voids the authorization made under `authorizeKey` (already void: nothing more happens), and
   * answers its id; none made: answers null, and none ever will be (an authorize under the key
   * arriving later is refused AUTHORIZATION_KEY_CLOSED), so a request still on its way cannot
   * leave a hold behind. Captured: AUTHORIZATION_CAPTURED, as `void`.
   */
  voidByAuthorizeKey(req: VoidByAuthorizeKeyRequest, opts?: CallOptions): Promise<{ authorizationId: string | null }>;
  refund(req: RefundRequest, opts?: CallOptions): Promise<{ refundId: string }>;
}

export interface CreditWalletRequest {
  billingAccountId: string;
  amount: string;
  currency: string;
  idempotencyKey: string;
  /** What the credit is for, e.g. the recharge id; shown on the ledger entry. */
  reference: string;
}
export interface CloseCreditKeyRequest {
  billingAccountId: string;
  /** The idempotency key the credit was (or would have been) made with. */
  idempotencyKey: string;
}
/** A step of a card recharge that touches the card: a hold (AUTHORIZE) or the money (CAPTURE). */
export type RechargeCardStep = 'AUTHORIZE' | 'CAPTURE';
export interface BeginRechargeStepRequest {
  rechargeId: string;
  step: RechargeCardStep;
}
/** The wallets service (TM Forum TopupBalance). */
export interface WalletsClient {
  /**
   * Asked before a recharge's card is authorized or captured: resolves when the step may go on (CAPTURE
   * claims the recharge, which can then no longer be cancelled); a recharge wallets cancelled (its auto
   * top-up rule turned off) throws DomainError('RECHARGE_CANCELLED'), not retryable. Idempotent. A
   * client without it (test fakes) lets every step go on.
   */
  beginRechargeStep?(req: BeginRechargeStepRequest, opts?: CallOptions): Promise<void>;
  creditWallet(req: CreditWalletRequest, opts?: CallOptions): Promise<{ transactionId: string }>;
  /**
   * Settles a credit key before the money is given back elsewhere (a refund): the credit made
   * under the key (`transactionId`), or null when none was, and then none ever will be (a credit
   * still on its way under that key is refused). Idempotent: the same key, the same answer.
   */
  closeCreditKey(req: CloseCreditKeyRequest, opts?: CallOptions): Promise<{ transactionId: string | null }>;
}

export interface IssueReceiptRequest {
  billingAccountId: string;
  rechargeId: string;
  amount: string;
  currency: string;
  paymentReference: string;
  channel: string;
  idempotencyKey: string;
}
/** Receipts for payments (the invoicing service). */
export interface ReceiptsClient {
  issueReceipt(req: IssueReceiptRequest, opts?: CallOptions): Promise<{ receiptId: string }>;
}

export interface ClosePeriodRequest {
  billingAccountId: string;
  periodStart: string;
  periodEnd: string;
  idempotencyKey: string;
  /** The account's last period (it was closed): invoicing marks the account CLOSED and bills only late charges after it. */
  final?: boolean;
}
export interface ClosedPeriodResult {
  periodId: string;
  /**
   * Where the account's next period (from this one's end) ends by invoicing's bill cycle (a change of
   * cycle day or zone, its bridge); null after the final period; absent from a client that does not
   * know (the workflow then computes it from its input's cycle).
   */
  nextPeriodEnd?: string | null;
  /**
   * When the account was closed in invoicing (its `closed_at`, ISO-8601) as it stands after this close; null while it
   * is open; absent from an invoicing or a client that does not say (the workflow then reports the period's end).
   */
  accountClosedAt?: string | null;
}
/** Closes a billing period so invoicing can bill it (the invoicing service). */
export interface BillingPeriodsClient {
  closePeriod(req: ClosePeriodRequest, opts?: CallOptions): Promise<ClosedPeriodResult>;
}
