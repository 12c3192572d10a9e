import { describe, expect, it } from 'vitest';
import { outcomeOfFailure } from './recharge-starter';

describe('a recharge workflow failure → the recharge status', () => {
  it.each([
    ['PAYMENT_DECLINED', 'DECLINED'],
    ['PAYMENT_CAPTURE_REJECTED', 'DECLINED'],
    ['PAYMENT_CAPTURE_FAILED', 'FAILED'],
    ['WALLET_CREDIT_FAILED', 'REFUNDED'],
    // Captured, not credited, and the provider refused the refund: money taken and not given back.
    ['RECHARGE_REFUND_FAILED', 'REFUND_FAILED'],
    ['INVALID_RECHARGE_INPUT', 'FAILED'],
    ['TERMINATED', 'FAILED'],
  ])('%s → %s', (code, status) => {
    expect(outcomeOfFailure(code)).toEqual({ status, failure: code });
  });
});
