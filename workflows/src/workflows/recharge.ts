// Recharge: authorize → capture → credit wallet → receipt, as a saga.
//
// An authorize whose answer never came (every try lost or timed out, or the workflow cancelled while
// it was on its way) may still have put a hold on the card: nothing is charged, but the customer's
// money is held until the authorization expires. The authorization made under the authorize's key
// is voided by that key, even when cancelled; found none, the key is closed so an authorize still on
// its way cannot make one (patch `recharge-voids-authorization-by-key`; runs whose authorize ended
// before it replay as they ran).
// Money moves only in capture and credit, so those are where compensation lives:
//   capture fails (after retries) → void the authorization: the customer is not charged (a void the
//                                   provider refuses because a capture went through, every answer to it
//                                   lost, names that capture: the recharge goes on with it);
//   credit refused by wallets     → close the credit's key, then refund the capture: the customer
//                                   gets the money back, and the wallet is never credited with it
//                                   (a refund the provider refuses for good ends RECHARGE_REFUND_FAILED:
//                                   paid, neither credited nor refunded, for staff to settle).
// Once the card is charged the credit is retried until wallets gives a definite answer: a credit
// whose answers were lost (timeout, 502, restart) may have committed, and only its own key can
// tell. A refusal (a coded DomainError: no such wallet, currency mismatch…) is final, but even
// then the key is closed first (wallets answers the credit made under it by an earlier attempt,
// or makes sure none ever will be): what the card paid is what the wallet got.
// A failed receipt does not undo a recharge: the money is where it should be, so the result just
// has no receipt id (and the failure is in the history for operations to re-issue).
// Every activity call carries the key `${workflowId}:${step}`; the workflow id is
// `recharge-${rechargeId}`, so a second start, a retry or a replay can never charge twice.
import { ActivityFailure, ApplicationFailure, CancellationScope, defineQuery, log, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { validateRechargeInput, type RechargeInput, type RechargeResult, type RechargeStatus, type RechargeStep } from '../domain/recharge';
import { ErrorCode } from '../errors';

export const rechargeStatusQuery = defineQuery<RechargeStatus>('rechargeStatus');

/** An authorize that ended without an answer is voided by its key (see the top). */
const VOIDS_AUTHORIZATION_BY_KEY = 'recharge-voids-authorization-by-key';

/**
 * A compensation runs to its end even when the workflow is cancelled: cancelled while the credit
 * was retried, the workflow would otherwise stop with the card charged and the wallet not credited.
 * (A cancellation reaches the step being compensated as its failure, so it is settled like a refusal.)
 */
const compensating = <T>(step: () => Promise<T>): Promise<T> => CancellationScope.nonCancellable(step);

// Authorization is safe to retry a few times (idempotent by key); a decline is never retried.
const { authorizePayment } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 5, nonRetryableErrorTypes: [ErrorCode.PAYMENT_DECLINED] },
});

// Capture: a bounded number of tries, then give up and void. A provider that does not answer
// within 30 s is treated as a failed attempt; idempotency makes the retry safe.
const { capturePayment } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumAttempts: 3, nonRetryableErrorTypes: [ErrorCode.PAYMENT_CAPTURE_REJECTED] },
});

// Credit: the card is charged by now, so giving up would mean refunding a credit that may have
// committed. Transient failures (no answer in time, a 5xx or 502, wallets or the worker restarting)
// are retried without limit, backing off to a minute; the key makes a retry replay a committed
// credit. Only a non-retryable failure (wallets' coded refusal) ends it.
const { creditWallet } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// Compensations must eventually succeed: money is held or taken. Retry without limit, backing
// off to a minute, so an outage delays the void/refund but never skips it. The same for the close
// of the credit key that decides whether a refund is due (its activity retries even a refusal).
const { voidAuthorization, voidAuthorizationByKey, refundPayment, closeWalletCreditKey } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

const { issueReceipt } = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
});

export async function rechargeWorkflow(input: RechargeInput): Promise<RechargeResult> {
  const status: RechargeStatus = { step: 'validating' };
  setHandler(rechargeStatusQuery, () => status);
  const key = (step: RechargeStep) => `${workflowInfo().workflowId}:${step}`;

  const problems = validateRechargeInput(input);
  if (problems.length > 0) {
    status.step = 'failed';
    throw ApplicationFailure.nonRetryable(`invalid recharge: ${problems.join('; ')}`, ErrorCode.INVALID_RECHARGE_INPUT, { problems });
  }
  const { rechargeId, billingAccountId, amount, currency, paymentMethodToken, channel } = input;

  status.step = 'authorize';
  const authorizeKey = key('authorize');
  let authorizationId: string;
  try {
    ({ authorizationId } = await authorizePayment({ paymentMethodToken, amount, currency, reference: rechargeId, idempotencyKey: authorizeKey }));
  } catch (err) {
    status.step = 'failed';
    status.failure = failureType(err);
    if (status.failure === ErrorCode.PAYMENT_DECLINED) {
      throw ApplicationFailure.nonRetryable(`payment declined for recharge ${rechargeId}`, ErrorCode.PAYMENT_DECLINED, { rechargeId });
    }
    // Asked here, where it decides: a run whose authorize failed under an older worker replays without the void.
    if (patched(VOIDS_AUTHORIZATION_BY_KEY)) {
      status.step = 'voidAuthorizeKey';
      await voidWhateverWasAuthorized(rechargeId, authorizeKey, key('voidAuthorizeKey'));
      status.step = 'failed';
    }
    throw err;
  }
  status.authorizationId = authorizationId;

  status.step = 'capture';
  let captureId: string;
  try {
    ({ captureId } = await capturePayment({ authorizationId, amount, currency, idempotencyKey: key('capture') }));
  } catch (err) {
    status.failure = failureType(err);
    log.warn('capture failed; voiding the authorization', { rechargeId, authorizationId, failure: status.failure });
    status.step = 'void';
    const found = await compensating(() => voidAuthorization({ authorizationId, idempotencyKey: key('void') })).then(
      () => undefined,
      (voidErr: unknown) => {
        // The provider refuses to void a captured authorization: a capture went through though every
        // answer to it was lost. The card is charged, so the recharge goes on with that capture (the
        // wallet is credited, or the capture refunded if wallets refuses): before, the workflow failed
        // here with the card charged and nothing credited or refunded.
        if (!patched('recharge-void-refused-captured')) throw voidErr;
        const captured = capturedIdOf(voidErr);
        if (captured === undefined) throw voidErr;
        return captured;
      },
    );
    if (found === undefined) {
      status.step = 'compensated';
      throw ApplicationFailure.nonRetryable(`capture failed for recharge ${rechargeId}; authorization voided`, ErrorCode.PAYMENT_CAPTURE_FAILED, {
        rechargeId,
        authorizationId,
        cause: status.failure,
      });
    }
    log.warn('the void found the authorization captured; going on with that capture', { rechargeId, authorizationId, captureId: found });
    status.failure = undefined;
    captureId = found;
  }
  status.captureId = captureId;

  status.step = 'creditWallet';
  const creditKey = key('creditWallet');
  let walletTransactionId: string;
  try {
    ({ transactionId: walletTransactionId } = await creditWallet({ billingAccountId, amount, currency, reference: rechargeId, idempotencyKey: creditKey }));
  } catch (err) {
    // Only a definite refusal gets here (anything transient is retried without limit). An earlier
    // attempt may still have committed (its answer lost): the key's close tells, and makes sure
    // that a credit still on its way under the key can no longer land once the card is refunded.
    const refusal = failureType(err);
    status.step = 'closeCreditKey';
    const closed = await compensating(() => closeWalletCreditKey({ billingAccountId, idempotencyKey: creditKey }));
    if (closed.transactionId === null) {
      status.failure = refusal;
      log.warn('wallet refused the credit and nothing was credited under its key; refunding the payment', { rechargeId, captureId, failure: refusal });
      status.step = 'refund';
      await compensating(() => refundPayment({ captureId, amount, currency, idempotencyKey: key('refund') })).catch((refundErr: unknown) => {
        // Only the provider's final no gets here (the refund is retried without limit). Before, the
        // workflow failed with that activity failure and wallets recorded FAILED, "no money taken":
        // the customer had paid and nobody was told. Same commands as before, so no patch.
        const refundFailure = failureType(refundErr);
        status.step = 'failed';
        status.failure = ErrorCode.RECHARGE_REFUND_FAILED;
        log.error('the provider refused the refund: the card is charged, the wallet not credited and the money not returned; staff must act', { rechargeId, captureId, amount, currency, cause: refusal, refundFailure });
        throw ApplicationFailure.nonRetryable(
          `refund refused for recharge ${rechargeId}: ${amount} ${currency} captured (${captureId}), not credited, not refunded`,
          ErrorCode.RECHARGE_REFUND_FAILED,
          { rechargeId, captureId, amount, currency, cause: refusal, refundFailure },
        );
      });
      status.step = 'compensated';
      throw ApplicationFailure.nonRetryable(`wallet credit failed for recharge ${rechargeId}; payment refunded`, ErrorCode.WALLET_CREDIT_FAILED, {
        rechargeId,
        captureId,
        cause: refusal,
      });
    }
    log.warn('wallet refused the credit, but an earlier attempt had made it; the recharge stands', { rechargeId, captureId, failure: refusal, walletTransactionId: closed.transactionId });
    walletTransactionId = closed.transactionId;
  }
  status.walletTransactionId = walletTransactionId;

  status.step = 'issueReceipt';
  let receiptId: string | undefined;
  try {
    ({ receiptId } = await issueReceipt({ billingAccountId, rechargeId, amount, currency, paymentReference: captureId, channel, idempotencyKey: key('issueReceipt') }));
    status.receiptId = receiptId;
  } catch (err) {
    log.error('receipt could not be issued; the recharge stands', { rechargeId, failure: failureType(err) });
  }

  status.step = 'completed';
  return { rechargeId, status: 'COMPLETED', amount, currency, authorizationId, captureId, walletTransactionId, ...(receiptId ? { receiptId } : {}) };
}

/**
 * Voids what the authorize made under its key, if anything, whatever the cancellation: the answer
 * was lost, not the authorization. A void that fails for good (only a refusal gets past the unlimited
 * retries) is logged, and the recharge ends with the authorize's own failure: the hold expires by itself.
 */
async function voidWhateverWasAuthorized(rechargeId: string, authorizeKey: string, idempotencyKey: string): Promise<void> {
  try {
    const { authorizationId } = await compensating(() => voidAuthorizationByKey({ authorizeKey, idempotencyKey }));
    if (authorizationId !== null) log.warn('the authorize never answered but had authorized; that authorization is voided', { rechargeId, authorizationId });
  } catch (voidErr) {
    log.error('could not void by the authorize key; the card may carry a hold until it expires', { rechargeId, authorizeKey, failure: failureType(voidErr) });
  }
}

/** The capture id a void refused as AUTHORIZATION_CAPTURED names, else undefined. */
function capturedIdOf(err: unknown): string | undefined {
  if (failureType(err) !== ErrorCode.AUTHORIZATION_CAPTURED) return undefined;
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const details = cause instanceof ApplicationFailure ? (cause.details?.[0] as { captureId?: unknown } | undefined) : undefined;
  return typeof details?.captureId === 'string' ? details.captureId : undefined;
}

/** The stable code behind an activity failure: ApplicationFailure type, else the failure kind. */
function failureType(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure && cause.type) return cause.type;
  return cause instanceof Error ? cause.name : 'UNKNOWN';
}
