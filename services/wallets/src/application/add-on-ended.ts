import { badInput, type AddOnEndedData } from '@ledgerline/contracts';
import type { Sql } from '../persistence/sql';
import { revokeGrant } from './buckets';

/**
 * Subscribers' `addon.ended` (endAddOn): an add-on ended before it lapsed gives back what is left
 * of its allowance buckets: each bucket granted under one of its `grantKeys` is REVOKED (never drawn
 * on again, its units back to the account's ALLOWANCE_GRANTED; what was used stays used). Its money
 * comes separately, as a CREDIT one-off (`applyOneOffCharge`). A redelivery revokes nothing more
 * (`revokeGrant` answers the same). Returns the units taken back by this call or the first, per key.
 */
export async function revokeEndedAddOn(sql: Sql, d: AddOnEndedData, now: Date): Promise<{ grantKey: string; unitsRevoked: string }[]> {
  if (!d || typeof d.billingAccountId !== 'string' || !Array.isArray(d.grantKeys)) throw badInput('data', 'An addon.ended event names its billing account and grant keys', 'ADDON_ENDED_INVALID');
  const out: { grantKey: string; unitsRevoked: string }[] = [];
  for (const grantKey of d.grantKeys) out.push({ grantKey, unitsRevoked: (await revokeGrant(sql, { grantKey, billingAccountId: d.billingAccountId, now })).unitsRevoked });
  return out;
}
