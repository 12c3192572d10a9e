// Recharge: input, result and validation. Pure; used by the workflow and by callers.
import { isCurrencyCode, isPositiveDecimal } from './money';

export type RechargeChannel = 'SELF_CARE' | 'CUSTOMER_SERVICE' | 'AUTO_TOPUP' | 'PARTNER' | 'API';

export interface RechargeInput {
  rechargeId: string;
  billingAccountId: string;
  /** Decimal string, e.g. "20.00". */
  amount: string;
  /** ISO 4217, e.g. "EUR". */
  currency: string;
  paymentMethodToken: string;
  channel: RechargeChannel | string;
}

export type RechargeStep = 'authorize' | 'voidAuthorizeKey' | 'capture' | 'creditWallet' | 'closeCreditKey' | 'issueReceipt' | 'void' | 'refund';

export interface RechargeResult {
  rechargeId: string;
  status: 'COMPLETED';
  amount: string;
  currency: string;
  authorizationId: string;
  captureId: string;
  walletTransactionId: string;
  /** Absent when the receipt could not be issued; the money has moved regardless. */
  receiptId?: string;
}

/** What the `status` query answers while the recharge runs. */
export interface RechargeStatus {
  step: RechargeStep | 'validating' | 'completed' | 'failed' | 'compensated';
  authorizationId?: string;
  captureId?: string;
  walletTransactionId?: string;
  receiptId?: string;
  failure?: string;
}

/** Workflow id for a recharge: one recharge id can only ever be one workflow (and one charge). */
export const rechargeWorkflowId = (rechargeId: string): string => `recharge-${rechargeId}`;

/** Returns a list of problems, each naming the field, so the caller can fix the input. */
export function validateRechargeInput(input: RechargeInput): string[] {
  const problems: string[] = [];
  const nonEmpty = (field: keyof RechargeInput) => {
    const v = input?.[field];
    if (typeof v !== 'string' || v.trim() === '') problems.push(`${field} is required`);
  };
  nonEmpty('rechargeId');
  nonEmpty('billingAccountId');
  nonEmpty('paymentMethodToken');
  nonEmpty('channel');
  if (!isPositiveDecimal(input?.amount)) {
    problems.push(`amount must be a positive decimal string such as "20.00" (got ${JSON.stringify(input?.amount)})`);
  }
  if (!isCurrencyCode(input?.currency)) {
    problems.push(`currency must be an ISO 4217 code such as "EUR" (got ${JSON.stringify(input?.currency)})`);
  }
  return problems;
}
