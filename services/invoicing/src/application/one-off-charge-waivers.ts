// What waiveOneOffCharge and addOneOffCharge share: the id's lock and the waivers recorded in advance
// (an id waived before its charge reached invoicing; see waive-one-off-charge.ts).
import type { Em } from '@ledgerline/platform';
import { sql } from './sql';

/**
 * Serialises the waiver and the posting of one one-off charge id (a transaction advisory lock). Lock
 * order (lock-order.ts): the account's billing lock and then its credit lock (when taken) before this
 * one: a subscribers batch takes the rows of the accounts it closes before it posts any one-off; the
 * waiver of a posted charge takes both first too.
 */
export async function lockOneOffChargeId(em: Em, id: string): Promise<void> {
  await sql(em).raw('select pg_advisory_xact_lock(hashtext(?), hashtext(?))', ['one-off-charge', id]);
}

/** The waiver recorded for an id before its charge reached invoicing, if any. */
export async function waiverInAdvance(em: Em, id: string): Promise<{ reason: string; waived_at: Date } | undefined> {
  return sql(em)('one_off_charge_waiver').where({ id }).first('reason', 'waived_at');
}
