// A payment provider for development and tests whose behaviour is scripted per payment token.
//
// It keeps real provider semantics where they matter for exactly-once: every operation is
// idempotent by key (a retried capture returns the first capture, it does not capture twice),
// capture needs a live authorization and at most its amount, void needs an uncaptured
// authorization, refund at most what was captured; a void by an authorize's key that finds no
// authorization closes that key (a later authorize under it is refused). `operations` is the record tests assert on.
import Decimal from 'decimal.js';
import { DomainError, ErrorCode } from '../errors';
import type {
  Authorization,
  AuthorizeRequest,
  CallOptions,
  Capture,
  CaptureRequest,
  PaymentProvider,
  RefundRequest,
  VoidByAuthorizeKeyRequest,
  VoidRequest,
} from '../ports';
import { hangUntilAborted, IdempotencyStore, scripted } from './idempotency';

/**
 * What one attempt of an operation does:
 * - `ok`: performs it;
 * - `decline`: refuses it (authorize → PAYMENT_DECLINED, capture → PAYMENT_CAPTURE_REJECTED, refund →
 *   PAYMENT_REFUND_REJECTED), not retryable;
 * - `hang`: never answers (until the activity is cancelled or times out);
 * - `fail`: a transient outage before anything happened (retryable);
 * - `fail-after`: performs it, then the answer is lost (retryable; the retry must not repeat it);
 * - `hang-after`: performs it, then never answers (until the activity is cancelled or times out).
 */
export type SandboxOutcome = 'ok' | 'decline' | 'hang' | 'fail' | 'fail-after' | 'hang-after';
type Op = 'authorize' | 'capture' | 'void' | 'refund';
/** Per operation, one outcome or a list per attempt (the last one repeats). */
export type SandboxScript = Partial<Record<Op, SandboxOutcome | readonly SandboxOutcome[]>>;

/** Tokens that behave a known way without configuration (dev and demo). */
export const SANDBOX_TOKENS: Readonly<Record<string, SandboxScript>> = {
  sandbox_approve: {},
  sandbox_decline: { authorize: 'decline' },
  sandbox_timeout: { capture: 'hang' },
  sandbox_timeout_once: { capture: ['hang', 'ok'] },
  sandbox_fail_after_capture: { capture: ['fail-after', 'ok'] },
  sandbox_capture_rejected: { capture: 'decline' },
  // Approves everything but refunds: the provider's final no (card closed, refund window passed).
  sandbox_refund_refused: { refund: 'decline' },
};

export interface SandboxOperation {
  op: Op;
  idempotencyKey: string;
  id: string;
  amount?: string;
  currency?: string;
  authorizationId?: string;
  captureId?: string;
}

export interface SandboxPaymentProviderOptions {
  /** Behaviour per token; merged over SANDBOX_TOKENS. Unknown tokens approve everything. */
  scripts?: Record<string, SandboxScript>;
}

interface AuthorizationState {
  token: string;
  amount: string;
  currency: string;
  status: 'AUTHORIZED' | 'CAPTURED' | 'VOIDED';
}

export class SandboxPaymentProvider implements PaymentProvider {
  /** Operations that took effect, in order (one per idempotency key). */
  readonly operations: SandboxOperation[] = [];
  /** Calls received per operation, including retries and failures. */
  readonly calls: Record<Op, number> = { authorize: 0, capture: 0, void: 0, refund: 0 };

  private readonly scripts: Record<string, SandboxScript>;
  private readonly attempts = new Map<string, number>();
  private readonly authorizations = new Map<string, AuthorizationState>();
  private readonly captures = new Map<string, { authorizationId: string; amount: Decimal; refunded: Decimal; currency: string }>();
  private readonly done = new IdempotencyStore<SandboxOperation>();
  private readonly closedAuthorizeKeys = new Set<string>();
  private seq = 0;

  constructor(opts: SandboxPaymentProviderOptions = {}) {
    this.scripts = { ...SANDBOX_TOKENS, ...opts.scripts };
  }

  async authorize(req: AuthorizeRequest, opts?: CallOptions): Promise<Authorization> {
    const op = await this.run('authorize', req.paymentMethodToken, req, opts, () => {
      if (this.closedAuthorizeKeys.has(req.idempotencyKey)) {
        throw new DomainError(ErrorCode.AUTHORIZATION_KEY_CLOSED, `authorize key ${req.idempotencyKey} was closed by a void; no authorization made`);
      }
      const authorizationId = this.nextId('auth');
      this.authorizations.set(authorizationId, { token: req.paymentMethodToken, amount: req.amount, currency: req.currency, status: 'AUTHORIZED' });
      return { op: 'authorize', idempotencyKey: req.idempotencyKey, id: authorizationId, amount: req.amount, currency: req.currency };
    });
    return { authorizationId: op.id, amount: op.amount!, currency: op.currency! };
  }

  async capture(req: CaptureRequest, opts?: CallOptions): Promise<Capture> {
    const auth = this.authorization(req.authorizationId);
    const op = await this.run('capture', auth.token, req, opts, () => {
      if (auth.status !== 'AUTHORIZED') {
        throw new DomainError(ErrorCode.PAYMENT_CAPTURE_REJECTED, `authorization ${req.authorizationId} is ${auth.status}`);
      }
      if (req.currency !== auth.currency || new Decimal(req.amount).gt(auth.amount)) {
        throw new DomainError(ErrorCode.PAYMENT_CAPTURE_REJECTED, `capture ${req.amount} ${req.currency} exceeds authorization ${auth.amount} ${auth.currency}`);
      }
      auth.status = 'CAPTURED';
      const captureId = this.nextId('cap');
      this.captures.set(captureId, { authorizationId: req.authorizationId, amount: new Decimal(req.amount), refunded: new Decimal(0), currency: req.currency });
      return { op: 'capture', idempotencyKey: req.idempotencyKey, id: captureId, amount: req.amount, currency: req.currency, authorizationId: req.authorizationId };
    });
    return { captureId: op.id, amount: op.amount!, currency: op.currency! };
  }

  async void(req: VoidRequest, opts?: CallOptions): Promise<{ voidId: string }> {
    const auth = this.authorization(req.authorizationId);
    const op = await this.run('void', auth.token, req, opts, () => {
      if (auth.status === 'CAPTURED') {
        const captureId = [...this.captures].find(([, c]) => c.authorizationId === req.authorizationId)?.[0];
        throw new DomainError(ErrorCode.AUTHORIZATION_CAPTURED, `authorization ${req.authorizationId} is captured (${captureId}); refund it instead`, { details: { captureId } });
      }
      auth.status = 'VOIDED';
      return { op: 'void', idempotencyKey: req.idempotencyKey, id: this.nextId('void'), authorizationId: req.authorizationId };
    });
    return { voidId: op.id };
  }

  async voidByAuthorizeKey(req: VoidByAuthorizeKeyRequest, opts?: CallOptions): Promise<{ authorizationId: string | null }> {
    const made = this.done.find(req.authorizeKey);
    if (made?.op !== 'authorize') {
      this.closedAuthorizeKeys.add(req.authorizeKey);
      return { authorizationId: null };
    }
    if (this.authorization(made.id).status !== 'VOIDED') await this.void({ authorizationId: made.id, idempotencyKey: req.idempotencyKey }, opts);
    return { authorizationId: made.id };
  }

  async refund(req: RefundRequest, opts?: CallOptions): Promise<{ refundId: string }> {
    const cap = this.captures.get(req.captureId);
    if (!cap) throw new DomainError(ErrorCode.NOT_FOUND, `no capture ${req.captureId}`);
    const auth = this.authorization(cap.authorizationId);
    const op = await this.run('refund', auth.token, req, opts, () => {
      const after = cap.refunded.plus(req.amount);
      if (req.currency !== cap.currency || after.gt(cap.amount)) {
        throw new DomainError(ErrorCode.CONFLICT, `refund ${req.amount} ${req.currency} exceeds what is left of capture ${req.captureId}`);
      }
      cap.refunded = after;
      return { op: 'refund', idempotencyKey: req.idempotencyKey, id: this.nextId('ref'), amount: req.amount, currency: req.currency, captureId: req.captureId };
    });
    return { refundId: op.id };
  }

  /** Captured minus refunded, per currency, as decimal strings: what the customer has paid. */
  netCaptured(): Record<string, string> {
    const net: Record<string, Decimal> = {};
    for (const c of this.captures.values()) net[c.currency] = (net[c.currency] ?? new Decimal(0)).plus(c.amount).minus(c.refunded);
    return Object.fromEntries(Object.entries(net).map(([k, v]) => [k, v.toFixed()]));
  }

  effective(op: Op): SandboxOperation[] {
    return this.operations.filter((o) => o.op === op);
  }

  /** The common path: count the call, play the script, replay by key or perform the effect. */
  private async run(
    op: Op,
    token: string,
    req: { idempotencyKey: string },
    opts: CallOptions | undefined,
    perform: () => SandboxOperation,
  ): Promise<SandboxOperation> {
    this.calls[op]++;
    const attemptKey = `${op}:${req.idempotencyKey}`;
    const attempt = (this.attempts.get(attemptKey) ?? 0) + 1;
    this.attempts.set(attemptKey, attempt);
    const outcome = scripted(this.scripts[token]?.[op], attempt, 'ok');

    if (outcome === 'hang') await hangUntilAborted(opts?.signal, `sandbox ${op}`);
    if (outcome === 'fail') {
      throw new DomainError(ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, `sandbox ${op} unavailable (attempt ${attempt})`, { retryable: true });
    }
    if (outcome === 'decline') {
      const code = op === 'authorize' ? ErrorCode.PAYMENT_DECLINED : op === 'refund' ? ErrorCode.PAYMENT_REFUND_REJECTED : ErrorCode.PAYMENT_CAPTURE_REJECTED;
      throw new DomainError(code, `sandbox ${op} declined for token ${token}`, { details: { reason: 'SANDBOX_DECLINE' } });
    }

    let result = this.done.get(req.idempotencyKey, req);
    if (!result) {
      result = this.done.put(req.idempotencyKey, req, perform());
      this.operations.push(result);
    }
    if (outcome === 'fail-after') {
      throw new DomainError(ErrorCode.PAYMENT_PROVIDER_UNAVAILABLE, `sandbox ${op} done but the answer was lost (attempt ${attempt})`, { retryable: true });
    }
    if (outcome === 'hang-after') await hangUntilAborted(opts?.signal, `sandbox ${op}`);
    return result;
  }

  private authorization(authorizationId: string): AuthorizationState {
    const auth = this.authorizations.get(authorizationId);
    if (!auth) throw new DomainError(ErrorCode.NOT_FOUND, `no authorization ${authorizationId}`);
    return auth;
  }

  private nextId(prefix: string): string {
    this.seq += 1;
    return `${prefix}_${String(this.seq).padStart(6, '0')}`;
  }
}
