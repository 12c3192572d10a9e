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

/**
 * Published by wallets (through its outbox, on `WORK_SUBJECTS.chargeApplied`) once a charge is in
 * the ledger. Usage moves the record to its final status; invoicing keeps POSTPAID accruals as
 * unbilled charges for the next bill. It repeats the charge's facts so consumers need no lookup.
 */
export interface ChargeResult {
  chargeId: string;
  outcome: ChargeOutcome;
  billingAccountId: string;
  lineId: string;
  paymentMode: PaymentMode;
  usageType: string;
  occurredAt: string;
  units: string;
  unit: string;
  unitsFromAllowances: string;
  amountCharged: string;
  currency: string;
  /** Why a charge was denied or cut short, e.g. WALLET_INSUFFICIENT_BALANCE. */
  reason?: string;
}

/** `data` of subscribers' line and subscription events: what usage and invoicing need to know. */
export interface LineStateData {
  lineId: string;
  msisdn: string;
  billingAccountId: string;
  status: 'PENDING' | 'ACTIVE' | 'SUSPENDED' | 'BARRED' | 'TERMINATED';
}

export interface SubscriptionData {
  subscriptionId: string;
  lineId: string;
  msisdn: string;
  billingAccountId: string;
  paymentMode: PaymentMode;
  currency: string;
  planCode: string;
  planVersionId: string;
  status: string;
  /** ISO date-times; `endsAt` null while open-ended. */
  startsAt: string;
  endsAt: string | null;
  addOns: { code: string; startsAt: string; endsAt: string | null }[];
}
