import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * A reservation keeps its request's fingerprint (reserveFingerprint, 16 characters), written with
 * the row: a requestId repeated with other allowanceIds, allowOverdraft, validity, usage type or zone
 * (none of them on the row) was answered with the first reservation instead of being refused
 * IDEMPOTENCY_KEY_REUSED. Reservations made before this have none and are compared as before.
 */
export class Migration20261218100000_reservation_request_hash extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [`alter table reservation add column request_hash varchar(16) null`];
  }
}
