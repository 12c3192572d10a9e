// The payment-provider port, and a sandbox that behaves like one (for tests and local runs).
import { DomainError } from '@ledgerline/contracts';

export interface ChargeCardRequest {
  paymentMethodToken: string;
  amount: string;
  currency: string;
  reference: string;
  idempotencyKey: string;
}

export interface RefundCardRequest {
  providerRef: string;
  amount: string;
  currency: string;
  idempotencyKey: string;
}

/** A card acquirer. Declines throw DomainError('PAYMENT_DECLINED'); the same key returns the same result. */
export interface PaymentProvider {
  charge(req: ChargeCardRequest): Promise<{ providerRef: string }>;
  refund(req: RefundCardRequest): Promise<{ providerRef: string }>;
  /**
   * The charge the provider captured under `idempotencyKey`, if any, without charging (a real
   * acquirer: the charge carries the key in its metadata and is searched by it). recordPayment asks
   * only when it would otherwise refuse a card request: a capture whose commit failed is recorded.
   */
  findCharge(idempotencyKey: string): Promise<{ providerRef: string } | null>;
}

/**
 * Sandbox acquirer. Tokens: `tok_decline` declines, `tok_unavailable` fails as an outage, anything
 * else (`tok_visa`) is captured at once. Remembers keys like a real provider (Stripe): one key space
 * per merchant account for every operation, charges and refunds alike; the same key with the same
 * operation and parameters answers the first result, with another operation or other parameters it is
 * refused (`IDEMPOTENCY_KEY_REUSED`), never answered with the first result.
 */
export class SandboxPaymentProvider implements PaymentProvider {
  readonly charges = new Map<string, { providerRef: string; req: ChargeCardRequest }>();
  readonly refunds = new Map<string, { providerRef: string; req: RefundCardRequest }>();

  /** The first request seen with a key, whatever its operation. */
  private sameKey(op: 'charge' | 'refund', req: ChargeCardRequest | RefundCardRequest): { providerRef: string } | null {
    const other = op === 'charge' ? this.refunds.get(req.idempotencyKey) : this.charges.get(req.idempotencyKey);
    const seen = op === 'charge' ? this.charges.get(req.idempotencyKey) : this.refunds.get(req.idempotencyKey);
    if (other || (seen && JSON.stringify(seen.req) !== JSON.stringify(req))) {
      throw new DomainError('IDEMPOTENCY_KEY_REUSED', `The payment provider already had key "${req.idempotencyKey}" for ${other ? `a ${op === 'charge' ? 'refund' : 'charge'}` : 'other parameters'}`, { field: 'input.idempotencyKey' });
    }
    return seen ? { providerRef: seen.providerRef } : null;
  }

  async charge(req: ChargeCardRequest): Promise<{ providerRef: string }> {
    const seen = this.sameKey('charge', req);
    if (seen) return seen;
    if (req.paymentMethodToken === 'tok_decline') throw new DomainError('PAYMENT_DECLINED', 'The card was declined', { field: 'input.paymentMethodToken' });
    if (req.paymentMethodToken === 'tok_unavailable') throw new DomainError('PAYMENT_PROVIDER_UNAVAILABLE', 'The payment provider did not answer; try again', { field: 'input.paymentMethodToken' }, 'INTERNAL');
    const providerRef = `ch_sandbox_${this.charges.size + 1}`;
    this.charges.set(req.idempotencyKey, { providerRef, req });
    return { providerRef };
  }

  async findCharge(idempotencyKey: string): Promise<{ providerRef: string } | null> {
    const seen = this.charges.get(idempotencyKey);
    return seen ? { providerRef: seen.providerRef } : null;
  }

  async refund(req: RefundCardRequest): Promise<{ providerRef: string }> {
    const seen = this.sameKey('refund', req);
    if (seen) return seen;
    const providerRef = `re_sandbox_${this.refunds.size + 1}`;
    this.refunds.set(req.idempotencyKey, { providerRef, req });
    return { providerRef };
  }
}
