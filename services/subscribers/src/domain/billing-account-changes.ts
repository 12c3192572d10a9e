import { createHash } from 'node:crypto';
import { dec } from '@ledgerline/contracts';

/** The terms of a billing account its audit trail records (`billing_account_change.field`, GraphQL `BillingAccountChangeField`). */
export type BillingAccountChangeField = 'STATUS' | 'CREDIT_LIMIT' | 'AUTOPAY' | 'PARTNER';
export const BILLING_ACCOUNT_CHANGE_FIELDS: readonly BillingAccountChangeField[] = ['STATUS', 'CREDIT_LIMIT', 'AUTOPAY', 'PARTNER'];

/** One field a request changed, as the trail keeps it. Only real changes are recorded: the use case decides (a no-op is none). */
export interface FieldChange {
  field: BillingAccountChangeField;
  oldValue: string | null;
  newValue: string | null;
  /** PARTNER: the account's partnerVersion after it. */
  version?: number | null;
  /** The account the request changed, when this one followed it (a child taking its parent's partner). */
  viaAccountId?: string | null;
  reason?: string | null;
}

/** A credit limit as recorded: the decimal without trailing zeros ("500", "12.5"); null: no limit. */
export function creditLimitValue(limit: string | null | undefined): string | null {
  return limit == null ? null : dec(limit).toFixed();
}

/**
 * An autopay token as recorded: never the token, only `sha256:` and the first 8 hex digits of its SHA-256 (32 bits):
 * enough to tell in the trail whether a token was replaced by another or put back, far too little to find or prove a
 * token (every fingerprint fits billions of tokens). Null: no token on file. Whether a token changed is decided on the
 * tokens themselves (two tokens may share a fingerprint).
 */
export function autopayValue(token: string | null | undefined): string | null {
  return token == null ? null : `sha256:${createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 8)}`;
}
