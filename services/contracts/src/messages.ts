/**
 * Messages services exchange over NATS besides the CloudEvents they publish. Each shape is owned
 * here, once, so producer and consumer cannot drift apart. Money fields are decimal strings.
 */

/** Core-NATS request/reply subjects (online charging must answer in milliseconds, not via a stream). */
export const RPC = {
  /** Network element → usage: Nchf-style charging session (reserve / update / terminate). */
  chargingSession: 'ocs.usage.session',
  /** usage → wallets: reserve units or money for a session. */
  walletReserve: 'ocs.wallets.reserve',
  /** usage → wallets: commit used units of a reservation and release the rest. */
  walletCommit: 'ocs.wallets.commit',
  /** usage → wallets: release a reservation without use. */
  walletRelease: 'ocs.wallets.release',
} as const;

/** JetStream work subjects between services (durable, at-least-once, consumers idempotent). */
export const WORK_SUBJECTS = {
  /** usage → wallets: apply the charge of a rated usage record. */
  chargeRequested: 'billing.usage.charge.requested',
  /** wallets → usage: the outcome of a charge, so the record can move to its final status. */
  chargeApplied: 'billing.wallets.charge.applied',
} as const;

export type PaymentMode = 'PREPAID' | 'POSTPAID';

/** The rated result of one usage record, to be applied to the ledger exactly once. */
export interface ChargeRequest {
  /** Ledger idempotency key: one ledger transaction per usage record, ever. */
  chargeId: string;
  billingAccountId: string;
  lineId: string;
  paymentMode: PaymentMode;
  currency: string;
  usageType: string;
  occurredAt: string;
  /** Chargeable units after increments and rounding, in `unit`. */
  units: string;
  unit: string;
  /** Allowance ids to consume first, in order; units not covered are priced at `pricePerUnit`. */
  allowanceIds: string[];
  pricePerUnit: string;
  /** Whether a prepaid balance may go below zero for this charge. */
  allowOverdraft: boolean;
}

export type ChargeOutcome = 'APPLIED' | 'PARTIAL' | 'DENIED';

export interface ChargeResult {
  chargeId: string;
  outcome: ChargeOutcome;
  unitsFromAllowances: string;
  amountCharged: string;
  currency: string;
  /** Why a charge was denied or cut short, e.g. WALLET_INSUFFICIENT_BALANCE. */
  reason?: string;
}
