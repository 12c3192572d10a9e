import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Online session records stored REJECTED before the fix of 2026-11-28 (d6c5e56) did not keep that
 * wallets had committed their money through the session's reservation (charge_status NONE, no
 * figures), so `reprocessRejected` / `reprocessWaiting` rated them as ordinary usage and sent a
 * ChargeRequest: the customer paid twice. Since the fix such a row is stored charge_status APPLIED
 * and reprocessed as precharged (no ChargeRequest). This marks the rows from before it the same way.
 *
 * A row is marked only on all of this evidence that it is a session's commit record:
 * - source `ocs` (SESSION_SOURCE), written by usage itself: no fingerprint (internal records keep
 *   none), not SOURCE_RESERVED (a record from outside naming `ocs`), nor rejected for its ids;
 * - its event id is a commit's: `<key>` (TERMINATE) or `<key>#<n>` (UPDATE n) of a charging_session
 *   row, where key is the session id or, for a long one, `<head>~<first 32 hex of its sha256>`
 *   (sessionRecordKey); `<key>#<n>:unreserved` records are excluded: those are units no reservation
 *   covered, charged by their own ChargeRequest, so a rejected one was never charged and must be;
 * - still REJECTED with charge_status NONE and no charge of its own (`charge` null).
 *
 * The commit's figures were not stored: amount_charged / units_from_allowances stay null, which
 * readers take as "the rating's estimate" (usage-pipeline's Precharged); the ledger holds what was
 * taken. PostgreSQL only (sha256()): usage runs on PostgreSQL only (persistence/sql.ts).
 */
export const MARK_PRECHARGED_SESSION_REJECTIONS = `update usage_record u set charge_status = 'APPLIED'
  where u.source = 'ocs' and u.status = 'REJECTED' and u.charge_status = 'NONE' and u.charge is null and u.fingerprint is null
    and coalesce(u.rejection_code, '') not in ('SOURCE_RESERVED', 'EVENT_ID_INVALID', 'SOURCE_INVALID')
    and u.event_id not like '%:unreserved'
    and exists (
      select 1 from (
        select
               case when length(s.id) <= 106 and s.id = btrim(s.id) then s.id
                    else btrim(left(s.id, 73)) || '~' || left(encode(sha256(convert_to(s.id, 'UTF8')), 'hex'), 32) end as record_key
          from charging_session s
      ) k
      where u.event_id = k.record_key
         or (left(u.event_id, length(k.record_key) + 1) = k.record_key || '#'
             and substr(u.event_id, length(k.record_key) + 2) ~ '^[0-9]{1,10}$'))`;

export class Migration20261221000000_precharged_session_rejections extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    // PostgreSQL only (sha256, regular expressions): online charging sessions run on PostgreSQL, so a
    // SQLite database (the zero-setup default) holds no such rows.
    return (knex.client as { dialect?: string }).dialect === 'postgresql' ? [MARK_PRECHARGED_SESSION_REJECTIONS] : [];
  }
}
