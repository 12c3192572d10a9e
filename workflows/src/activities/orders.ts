// Activities of the order fulfilment workflow (subscribers' product orders). Built by a factory so
// the worker passes the real clients (GraphQL to the subscribers service, the provisioning system)
// and tests pass fakes. Each is a thin adapter: call the port with an abort signal, map DomainError
// to a typed ApplicationFailure (type = code; non-retryable unless the error says otherwise).
import { portCaller } from './call-port';
import { DomainError, isRetryableGraphqlCode } from '../errors';
import type { CallOptions } from '../ports';

/** Same shape as subscribers' ProvisioningRequest (services/subscribers/src/ports/provisioning.ts). */
export interface OrderProvisioningRequest {
  orderId: string;
  kind: 'NEW_LINE' | 'PLAN_CHANGE' | 'ADD_ON' | 'SUSPEND' | 'RESUME' | 'TERMINATE' | 'BAR' | 'SIM_REPLACEMENT';
  lineId: string;
  msisdn: string;
  /** The line's SIM; for a SIM_REPLACEMENT, the new SIM the network moves the line onto. */
  iccid: string | null;
  /** SIM_REPLACEMENT only: the SIM the line is moved off (what compensation moves it back to). */
  previousIccid?: string | null;
  imsi: string | null;
  planCode: string | null;
  idempotencyKey: string;
}

/** The network provisioning system. `compensate` undoes `execute` and is safe to call either way. */
export interface ProvisioningPort {
  execute(req: OrderProvisioningRequest, opts?: CallOptions): Promise<{ networkRef: string }>;
  compensate(req: OrderProvisioningRequest, opts?: CallOptions): Promise<void>;
}

export interface OrderState {
  orderId: string;
  status: 'ACKNOWLEDGED' | 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  failureCode?: string | null;
}

/** The subscribers service's order steps (each idempotent: a repeated step returns the order as is). */
export interface OrdersClient {
  startOrder(orderId: string, opts?: CallOptions): Promise<OrderState>;
  completeOrder(orderId: string, opts?: CallOptions): Promise<OrderState>;
  /** `networkUndone`: the compensation went through (the order was failed before it; repeated to say so). */
  failOrder(orderId: string, failure: { code: string; message: string; networkUndone?: boolean }, opts?: CallOptions): Promise<OrderState>;
}

export interface OrderActivityDeps {
  orders: OrdersClient;
  provisioning: ProvisioningPort;
}

export function createOrderActivities(deps: OrderActivityDeps, { callTimeoutMs = 20_000 }: { callTimeoutMs?: number } = {}) {
  const call = portCaller(callTimeoutMs);
  return {
    startOrder: (orderId: string) => call('SUBSCRIBERS', (o) => deps.orders.startOrder(orderId, o)),
    executeProvisioning: (req: OrderProvisioningRequest) => call('PROVISIONING', (o) => deps.provisioning.execute(req, o)),
    compensateProvisioning: (req: OrderProvisioningRequest) => call('PROVISIONING', (o) => deps.provisioning.compensate(req, o)),
    completeOrder: (orderId: string) => call('SUBSCRIBERS', (o) => deps.orders.completeOrder(orderId, o)),
    failOrder: (orderId: string, code: string, message: string, networkUndone?: boolean) => call('SUBSCRIBERS', (o) => deps.orders.failOrder(orderId, networkUndone ? { code, message, networkUndone } : { code, message }, o)),
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;

const STEP = (name: string) => /* GraphQL */ `
  mutation($i: OrderStepInput!) { ${name}(input: $i) { order { id status failureCode } } }
`;

/** Fixed headers, or a source asked again on every request (so a retry carries a fresh credential). */
export type OrdersCredentials = Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);

/**
 * The subscribers subgraph over HTTP, as the SYSTEM caller (`headers` = platform's
 * `callerHeaders(SYSTEM_CALLER, secret)`, or a function giving them per request). Decisions
 * (CONFLICT, BAD_USER_INPUT, NOT_FOUND, FORBIDDEN) are not retried; UNAUTHENTICATED (an expired
 * token, a restarted gateway) and outages are (errors.ts, isRetryableGraphqlCode).
 */
export class GraphqlOrdersClient implements OrdersClient {
  constructor(
    private readonly url: string,
    private readonly headers: OrdersCredentials,
  ) {}

  private async step(name: string, input: Record<string, unknown>, opts?: CallOptions): Promise<OrderState> {
    const credentials = typeof this.headers === 'function' ? await this.headers() : this.headers;
    const response = await fetch(this.url, { method: 'POST', headers: { 'content-type': 'application/json', ...credentials }, body: JSON.stringify({ query: STEP(name), variables: { i: input } }), signal: opts?.signal });
    const body = (await response.json().catch(() => ({}))) as { data?: Record<string, { order: { id: string; status: OrderState['status']; failureCode: string | null } }>; errors?: { message: string; extensions?: { code?: string; reason?: string } }[] };
    const error = body.errors?.[0];
    if (error) {
      const category = error.extensions?.code ?? 'INTERNAL';
      throw new DomainError(error.extensions?.reason ?? category, error.message, { retryable: isRetryableGraphqlCode(category) });
    }
    const order = body.data?.[name]?.order;
    if (!order) throw new DomainError('SUBSCRIBERS_UNAVAILABLE', `subscribers answered ${response.status} without data`, { retryable: true });
    return { orderId: order.id, status: order.status, failureCode: order.failureCode };
  }

  startOrder(orderId: string, opts?: CallOptions) {
    return this.step('startOrder', { orderId }, opts);
  }
  completeOrder(orderId: string, opts?: CallOptions) {
    return this.step('completeOrder', { orderId }, opts);
  }
  failOrder(orderId: string, failure: { code: string; message: string; networkUndone?: boolean }, opts?: CallOptions) {
    return this.step('failOrder', { orderId, failureCode: failure.code, failureMessage: failure.message, ...(failure.networkUndone ? { networkUndone: true } : {}) }, opts);
  }
}
