// Activities: the workflow's only way to the outside. Built by a factory so the worker passes the
// real clients and tests pass fakes (CONVENTIONS rule 7). Each one is a thin adapter: call the
// port with an abort signal and map DomainError to a typed ApplicationFailure.
//
// The signal ends a call when the activity is cancelled (worker shutdown, workflow cancel) or
// when the call outlives `callTimeoutMs`. That call timeout is shorter than the workflow's
// startToCloseTimeout on purpose: a provider that does not answer becomes a clear, retryable
// `<port>_TIMEOUT` failure from the worker instead of a silent server-side timeout, and the
// abandoned request is actually aborted rather than left running next to its retry.
import { portCaller } from './call-port';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  AuthorizeRequest,
  BillingPeriodsClient,
  CaptureRequest,
  CloseCreditKeyRequest,
  ClosePeriodRequest,
  CreditWalletRequest,
  IssueReceiptRequest,
  PaymentProvider,
  RechargeCardStep,
  ReceiptsClient,
  RefundRequest,
  VoidByAuthorizeKeyRequest,
  VoidRequest,
  WalletsClient,
} from '../ports';

export interface ActivityDeps {
  payments: PaymentProvider;
  wallets: WalletsClient;
  receipts: ReceiptsClient;
  billingPeriods: BillingPeriodsClient;
}

export interface ActivityOptions {
  /** Longest wait for one call to an external system (default 20 s, under the 30 s activity timeout). */
  callTimeoutMs?: number;
}

/**
 * For a call whose answer must be had before money moves back (the credit key's close before a
 * refund): a refusal (a worker without the right token, wallets without the mutation yet) is
 * retried like an outage, under the workflow's unlimited retry policy, until an operator fixes its
 * cause. The failure keeps its type and message, for the pending activity's last failure.
 */
function retriedAlways(err: unknown): never {
  if (err instanceof ApplicationFailure && err.nonRetryable) {
    throw ApplicationFailure.create({ message: err.message, type: err.type ?? undefined, details: err.details ?? undefined, nonRetryable: false, cause: err });
  }
  throw err;
}

/** The recharge a rechargeWorkflow's activity works for (its workflow id is `recharge-<rechargeId>`), else null. */
function rechargeOfWorkflow(): string | null {
  const { workflowType, workflowExecution } = Context.current().info;
  const workflowId = workflowExecution?.workflowId ?? '';
  return workflowType === 'rechargeWorkflow' && workflowId.startsWith('recharge-') ? workflowId.slice('recharge-'.length) : null;
}

export function createActivities(deps: ActivityDeps, { callTimeoutMs = 20_000 }: ActivityOptions = {}) {
  const call = portCaller(callTimeoutMs);
  /**
   * Before a recharge's card is touched, wallets says whether it still wants it (beginRechargeStep): a
   * recharge it cancelled (auto top-up turned off) is refused RECHARGE_CANCELLED, not retryable, and
   * the workflow voids what it authorized (no workflow change: a failed authorize or capture already
   * does). The capture's go-ahead claims the recharge, which wallets then never cancels: its money is credited.
   */
  const rechargeStep = async (step: RechargeCardStep): Promise<void> => {
    const begin = deps.wallets.beginRechargeStep?.bind(deps.wallets);
    const rechargeId = begin ? rechargeOfWorkflow() : null;
    if (!begin || rechargeId === null) return;
    await call('WALLETS', (o) => begin({ rechargeId, step }, o));
  };

  return {
    authorizePayment: async (req: AuthorizeRequest) => {
      await rechargeStep('AUTHORIZE');
      return call('PAYMENT_PROVIDER', (o) => deps.payments.authorize(req, o));
    },
    capturePayment: async (req: CaptureRequest) => {
      await rechargeStep('CAPTURE');
      return call('PAYMENT_PROVIDER', (o) => deps.payments.capture(req, o));
    },
    voidAuthorization: (req: VoidRequest) => call('PAYMENT_PROVIDER', (o) => deps.payments.void(req, o)),
    voidAuthorizationByKey: (req: VoidByAuthorizeKeyRequest) => call('PAYMENT_PROVIDER', (o) => deps.payments.voidByAuthorizeKey(req, o)),
    refundPayment: (req: RefundRequest) => call('PAYMENT_PROVIDER', (o) => deps.payments.refund(req, o)),
    creditWallet: (req: CreditWalletRequest) => call('WALLETS', (o) => deps.wallets.creditWallet(req, o)),
    closeWalletCreditKey: (req: CloseCreditKeyRequest) => call('WALLETS', (o) => deps.wallets.closeCreditKey(req, o)).catch(retriedAlways),
    issueReceipt: (req: IssueReceiptRequest) => call('RECEIPTS', (o) => deps.receipts.issueReceipt(req, o)),
    closePeriod: (req: ClosePeriodRequest) => call('BILLING_PERIODS', (o) => deps.billingPeriods.closePeriod(req, o)),
  };
}

export type Activities = ReturnType<typeof createActivities>;
