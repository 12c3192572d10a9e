// Domain errors with stable codes, and their one mapping to Temporal failures.
//
// Adapters (payment provider, GraphQL clients) throw DomainError; activities turn it into an
// ApplicationFailure whose `type` is the code, so workflows branch on `failure.type` and never on
// message text. Anything that is not a DomainError stays a plain error, which Temporal retries.
import { ApplicationFailure } from '@temporalio/common';

/** Codes this package produces or consumes. Stable: workflows and callers match on them. */
export const ErrorCode = {
  PAYMENT_DECLINED: 'PAYMENT_DECLINED',
  PAYMENT_CAPTURE_REJECTED: 'PAYMENT_CAPTURE_REJECTED',
  PAYMENT_CAPTURE_FAILED: 'PAYMENT_CAPTURE_FAILED',
  PAYMENT_PROVIDER_UNAVAILABLE: 'PAYMENT_PROVIDER_UNAVAILABLE',
  /** A void refused because the authorization was captured (details.captureId): the card is charged. */
  AUTHORIZATION_CAPTURED: 'AUTHORIZATION_CAPTURED',
  /** An authorize under a key whose authorization was given up on (voidByAuthorizeKey found none): refused, no hold made. */
  AUTHORIZATION_KEY_CLOSED: 'AUTHORIZATION_KEY_CLOSED',
  WALLET_CREDIT_FAILED: 'WALLET_CREDIT_FAILED',
  /** The provider's final no to a refund (card closed, refund window passed): the money stays taken. */
  PAYMENT_REFUND_REJECTED: 'PAYMENT_REFUND_REJECTED',
  /** A recharge captured, not credited, and its refund refused for good: the customer paid and got nothing back; staff must act. */
  RECHARGE_REFUND_FAILED: 'RECHARGE_REFUND_FAILED',
  /** wallets cancelled the recharge (its auto top-up rule turned off) before its card was captured: not authorized, not captured. */
  RECHARGE_CANCELLED: 'RECHARGE_CANCELLED',
  INVALID_RECHARGE_INPUT: 'INVALID_RECHARGE_INPUT',
  INVALID_BILL_CYCLE_INPUT: 'INVALID_BILL_CYCLE_INPUT',
  /** A bill run (or one of its batches) started with an input it cannot use; details name the fields. */
  INVALID_BILL_RUN_INPUT: 'INVALID_BILL_RUN_INPUT',
  /** An order fulfilment started with an input it cannot use (subscribers then fails the order, ORDER_FULFILMENT_ENDED). */
  INVALID_ORDER_INPUT: 'INVALID_ORDER_INPUT',
  /** An upsell offer started with an input it cannot use (line, add-on, period, rule, timings); details name the fields. */
  INVALID_UPSELL_OFFER_INPUT: 'INVALID_UPSELL_OFFER_INPUT',
  /** A dispute resolution started without a usable `disputeId`; details name the field. */
  INVALID_DISPUTE_INPUT: 'INVALID_DISPUTE_INPUT',
  /** A dunning started with an input it cannot use (invoice, account, due date, policy); details name the fields. */
  INVALID_DUNNING_INPUT: 'INVALID_DUNNING_INPUT',
  CONFLICT: 'CONFLICT',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  FORBIDDEN: 'FORBIDDEN',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
} as const;

export class DomainError extends Error {
  readonly code: string;
  /** True for transient conditions worth retrying (provider unavailable); false for decisions. */
  readonly retryable: boolean;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, opts: { retryable?: boolean; details?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.details = opts.details;
  }
}

/** DomainError → ApplicationFailure (type = code); other errors are returned unchanged. */
export function toActivityFailure(err: unknown): unknown {
  if (!(err instanceof DomainError)) return err;
  return ApplicationFailure.create({
    message: err.message,
    type: err.code,
    nonRetryable: !err.retryable,
    details: err.details ? [err.details] : undefined,
    cause: err,
  });
}

/**
 * Whether a GraphQL error (`extensions.code`) is worth retrying; the one table the GraphQL clients
 * share. Retried: outages (INTERNAL_SERVER_ERROR, a service's INTERNAL, the gateway's
 * DOWNSTREAM_SERVICE_ERROR, …_UNAVAILABLE, …_TIMEOUT) and UNAUTHENTICATED: the worker was not
 * recognised (its token expired, the gateway restarted with other keys), so the service has
 * decided nothing yet; the retry sends a fresh credential where the client can get one, otherwise
 * the same one after a back-off. Final: a service's decision (BAD_USER_INPUT, CONFLICT,
 * NOT_FOUND, FORBIDDEN, a service's own code) or a request it cannot read
 * (GRAPHQL_VALIDATION_FAILED): the same request gets the same answer.
 */
export const RETRYABLE_GRAPHQL_CODE = /^(INTERNAL_SERVER_ERROR|INTERNAL|DOWNSTREAM_SERVICE_ERROR|UNAUTHENTICATED|.+_UNAVAILABLE|.+_TIMEOUT)$/;

export function isRetryableGraphqlCode(code: string): boolean {
  return RETRYABLE_GRAPHQL_CODE.test(code);
}
