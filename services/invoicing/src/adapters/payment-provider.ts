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
}

/**
 * Sandbox acquirer. Tokens: `tok_decline` declines, `tok_unavailable` fails as an outage, anything
 * else (`tok_visa`) is captured at once. Remembers keys like a real provider.
 */
export class SandboxPaymentProvider implements PaymentProvider {
  readonly charges = new Map<string, { providerRef: string; req: ChargeCardRequest }>();
  readonly refunds = new Map<string, { providerRef: string; req: RefundCardRequest }>();

  async charge(req: ChargeCardRequest): Promise<{ providerRef: string }> {
    const seen = this.charges.get(req.idempotencyKey);
    if (seen) return { providerRef: seen.providerRef };
    if (req.paymentMethodToken === 'tok_decline') throw new DomainError('PAYMENT_DECLINED', 'The card was declined', { field: 'input.paymentMethodToken' });
    if (req.paymentMethodToken === 'tok_unavailable') throw new DomainError('PAYMENT_PROVIDER_UNAVAILABLE', 'The payment provider did not answer; try again', { field: 'input.paymentMethodToken' }, 'INTERNAL');
    const providerRef = `ch_sandbox_${this.charges.size + 1}`;
    this.charges.set(req.idempotencyKey, { providerRef, req });
    return { providerRef };
  }

  async refund(req: RefundCardRequest): Promise<{ providerRef: string }> {
    const seen = this.refunds.get(req.idempotencyKey);
    if (seen) return { providerRef: seen.providerRef };
    const providerRef = `re_sandbox_${this.refunds.size + 1}`;
    this.refunds.set(req.idempotencyKey, { providerRef, req });
    return { providerRef };
  }
}
