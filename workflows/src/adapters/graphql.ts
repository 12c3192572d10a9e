// Thin GraphQL-over-HTTP clients for the services the activities call (through the gateway or
// straight to a subgraph). They only translate: request → POST, `errors[].extensions.code` →
// DomainError (decisions, not retried) or a plain Error (outages, retried by Temporal).
import { DomainError, ErrorCode, RETRYABLE_GRAPHQL_CODE } from '../errors';
import { closeRefusalKind } from '../domain/bill-cycle';
import type {
  BeginRechargeStepRequest,
  BillingPeriodsClient,
  CallOptions,
  CloseCreditKeyRequest,
  ClosePeriodRequest,
  ClosedPeriodResult,
  CreditWalletRequest,
  IssueReceiptRequest,
  ReceiptsClient,
  WalletsClient,
} from '../ports';

export interface GraphqlClientOptions {
  url: string;
  /**
   * Extra headers, e.g. a service token for the gateway; or a function asked on every request, for
   * credentials that go stale (platform's `() => callerHeaders(SYSTEM_CALLER, secret)` straight to a
   * subgraph: a signed caller is refused after LEDGERLINE_CALLER_MAX_AGE_SECONDS).
   */
  headers?: Record<string, string> | (() => Record<string, string>);
  fetch?: typeof fetch;
}

/**
 * Codes that mean "try again later" (errors.ts, isRetryableGraphqlCode): a failure inside the
 * service (INTERNAL_SERVER_ERROR, and INTERNAL, the category the services give their own internal
 * DomainErrors), a subgraph the gateway could not reach or that answered with an HTTP error
 * (DOWNSTREAM_SERVICE_ERROR), an outage or a timeout, and UNAUTHENTICATED (an expired token, a
 * restarted gateway: nothing was decided). Every other code (BAD_USER_INPUT, CONFLICT, NOT_FOUND,
 * FORBIDDEN, a service's WALLET_… code) is a decision by the service that a retry of the same
 * request cannot change, so it becomes a non-retryable DomainError.
 */
const TRANSIENT_CODE = RETRYABLE_GRAPHQL_CODE;
/**
 * For the wallet credit, also the worker's own credentials (UNAUTHENTICATED, FORBIDDEN): they say
 * the request was not heard, not that wallets refused this credit, and a refused credit is refunded.
 * Retried until an operator fixes the token, then credited.
 */
const WALLETS_TRANSIENT_CODE = /^(INTERNAL_SERVER_ERROR|INTERNAL|DOWNSTREAM_SERVICE_ERROR|UNAUTHENTICATED|FORBIDDEN|.+_UNAVAILABLE|.+_TIMEOUT)$/;

interface GraphqlError {
  message: string;
  extensions?: { code?: string } & Record<string, unknown>;
}

export async function graphqlRequest<T>(
  client: GraphqlClientOptions,
  query: string,
  variables: Record<string, unknown>,
  opts?: CallOptions,
  transient: RegExp = TRANSIENT_CODE,
): Promise<T> {
  const doFetch = client.fetch ?? fetch;
  const extra = typeof client.headers === 'function' ? client.headers() : client.headers;
  const res = await doFetch(client.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...extra },
    body: JSON.stringify({ query, variables }),
    signal: opts?.signal,
  });
  const body = (await res.json().catch(() => undefined)) as { data?: T; errors?: GraphqlError[] } | undefined;
  const first = body?.errors?.[0];
  if (first) {
    const code = first.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
    if (!transient.test(code)) {
      throw new DomainError(code, first.message, { details: { extensions: first.extensions } });
    }
    throw new Error(`${client.url}: ${code}: ${first.message}`);
  }
  if (!res.ok || body?.data == null) {
    throw new Error(`${client.url}: HTTP ${res.status} without data`);
  }
  return body.data;
}

const TOPUP_BALANCE = /* GraphQL */ `
  mutation TopupBalance($input: TopupBalanceInput!) {
    topupBalance(input: $input) {
      topupBalance { id }
    }
  }
`;

const CLOSE_TOPUP_KEY = /* GraphQL */ `
  mutation CloseTopupKey($input: CloseTopupKeyInput!) {
    closeTopupKey(input: $input) {
      topupBalance { id }
    }
  }
`;

const BEGIN_RECHARGE_STEP = /* GraphQL */ `
  mutation BeginRechargeStep($input: BeginRechargeStepInput!) {
    beginRechargeStep(input: $input) {
      recharge { id }
    }
  }
`;

/**
 * wallets subgraph: `topupBalance(input)` credits a monetary wallet (TM Forum TopupBalance);
 * `closeTopupKey(input)` settles a credit's key before a refund; `beginRechargeStep(input)` is asked
 * before a recharge's card is authorized or captured.
 */
export class GraphqlWalletsClient implements WalletsClient {
  constructor(private readonly client: GraphqlClientOptions) {}

  /**
   * Only wallets' RECHARGE_CANCELLED (CONFLICT, `extensions.reason`) stops the step, for good. Any other
   * answer without the go-ahead (an outage, the worker's credentials, a wallets that does not know the
   * mutation yet) is retryable: the card is not touched on a guess, and the activity's retries, then the
   * workflow's void, leave no money taken.
   */
  async beginRechargeStep(req: BeginRechargeStepRequest, opts?: CallOptions): Promise<void> {
    await graphqlRequest(this.client, BEGIN_RECHARGE_STEP, { input: { rechargeId: req.rechargeId, step: req.step } }, opts, WALLETS_TRANSIENT_CODE).catch((err: unknown) => {
      if (!(err instanceof DomainError)) throw err;
      const reason = (err.details?.extensions as { reason?: unknown } | undefined)?.reason;
      if (reason === ErrorCode.RECHARGE_CANCELLED) throw new DomainError(ErrorCode.RECHARGE_CANCELLED, err.message, { details: err.details });
      throw new DomainError(typeof reason === 'string' && reason !== '' ? reason : err.code, err.message, { retryable: true, details: err.details });
    });
  }

  async creditWallet(req: CreditWalletRequest, opts?: CallOptions): Promise<{ transactionId: string }> {
    const input = {
      billingAccountId: req.billingAccountId,
      amount: { amount: req.amount, currency: req.currency },
      idempotencyKey: req.idempotencyKey,
      reference: req.reference,
    };
    const data = await graphqlRequest<{ topupBalance: { topupBalance: { id: string } } }>(this.client, TOPUP_BALANCE, { input }, opts, WALLETS_TRANSIENT_CODE);
    return { transactionId: data.topupBalance.topupBalance.id };
  }

  async closeCreditKey(req: CloseCreditKeyRequest, opts?: CallOptions): Promise<{ transactionId: string | null }> {
    const input = { billingAccountId: req.billingAccountId, idempotencyKey: req.idempotencyKey };
    const data = await graphqlRequest<{ closeTopupKey: { topupBalance: { id: string } | null } }>(this.client, CLOSE_TOPUP_KEY, { input }, opts, WALLETS_TRANSIENT_CODE);
    return { transactionId: data.closeTopupKey.topupBalance?.id ?? null };
  }
}

const ISSUE_RECEIPT = /* GraphQL */ `
  mutation IssuePaymentReceipt($input: IssuePaymentReceiptInput!) {
    issuePaymentReceipt(input: $input) {
      receipt { id }
    }
  }
`;

/** invoicing subgraph: a receipt for a payment received outside an invoice (a recharge). */
export class GraphqlReceiptsClient implements ReceiptsClient {
  constructor(private readonly client: GraphqlClientOptions) {}

  async issueReceipt(req: IssueReceiptRequest, opts?: CallOptions): Promise<{ receiptId: string }> {
    const input = {
      billingAccountId: req.billingAccountId,
      rechargeId: req.rechargeId,
      amount: { amount: req.amount, currency: req.currency },
      paymentReference: req.paymentReference,
      channel: req.channel,
      idempotencyKey: req.idempotencyKey,
    };
    const data = await graphqlRequest<{ issuePaymentReceipt: { receipt: { id: string } } }>(this.client, ISSUE_RECEIPT, { input }, opts);
    return { receiptId: data.issuePaymentReceipt.receipt.id };
  }
}

const CLOSE_BILLING_PERIOD = /* GraphQL */ `
  mutation CloseBillingPeriod($input: CloseBillingPeriodInput!) {
    closeBillingPeriod(input: $input) {
      billingPeriod { id nextPeriodEnd }
      accountClosedAt
    }
  }
`;

/**
 * invoicing subgraph: closes an account's period so the bill run can invoice it.
 *
 * Every refusal of `closeBillingPeriod` is retryable here, typed by its reason (`extensions.reason`,
 * else the code) and marked `details.refusal` WAIT or BUG (`closeRefusalKind`, domain/bill-cycle.ts):
 * none of them decides that the account's cycle is over, and taken as final one FAILED the account's
 * bill-cycle workflow, which then never billed it again (BILLING_PERIOD_NOT_ENDED: invoicing's clock a
 * little behind; BILLINGACCOUNT_NOT_FOUND: its created event still on its way to invoicing). The workflow
 * retries them in rounds and says so (workflows/bill-cycle.ts).
 */
export class GraphqlBillingPeriodsClient implements BillingPeriodsClient {
  constructor(private readonly client: GraphqlClientOptions) {}

  async closePeriod(req: ClosePeriodRequest, opts?: CallOptions): Promise<ClosedPeriodResult> {
    const { final, ...rest } = req;
    const data = await graphqlRequest<{ closeBillingPeriod: { billingPeriod: { id: string; nextPeriodEnd?: string | null }; accountClosedAt?: string | null } }>(this.client, CLOSE_BILLING_PERIOD, { input: { ...rest, ...(final ? { final: true } : {}) } }, opts).catch((err: unknown) => {
      if (!(err instanceof DomainError)) throw err;
      const given = (err.details?.extensions as { reason?: unknown } | undefined)?.reason;
      const reason = typeof given === 'string' && given !== '' ? given : err.code;
      throw new DomainError(reason, err.message, { retryable: true, details: { ...err.details, code: err.code, refusal: closeRefusalKind(reason) } });
    });
    const period = data.closeBillingPeriod.billingPeriod;
    return { periodId: period.id, nextPeriodEnd: period.nextPeriodEnd ?? null, accountClosedAt: data.closeBillingPeriod.accountClosedAt ?? null };
  }
}
