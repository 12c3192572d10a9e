import { schemaSql, PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Hub secrets encrypted at rest and rotated; deliveries of deleted hubs cancelled.
 * - `hub.secret` becomes text: it now holds `v1:<iv>:<ciphertext>:<tag>` (longer than the old 100
 *   characters). Rows stored before keep their plain-text secret, which has no `v1:` marker: the
 *   service reads them as they are and encrypts them in place at start-up and once a minute
 *   (application/seal-secrets.ts; the key is a setting, which SQL here cannot see).
 * - `previous_secrets`: secrets replaced by a rotation, each encrypted, with when it stops signing.
 * - `secret_rotated_at`: the last rotation.
 * - PENDING deliveries of hubs deleted before this are CANCELLED (a DELETE now does that itself),
 *   finished at the deletion, so retention takes them.
 */
export class Migration20261210000000_secrets_and_cancelled extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    return [
      ...schemaSql(
        knex.schema.alterTable('hub', (t) => {
          t.text('secret').notNullable().alter();
          t.jsonb('previous_secrets').nullable();
          t.timestamp('secret_rotated_at', { useTz: true }).nullable();
        }),
      ),
      `update webhook_delivery set status = 'CANCELLED', next_attempt_at = coalesce(h.deleted_at, webhook_delivery.next_attempt_at)
         from hub h where h.id = webhook_delivery.subscription_id and h.status = 'DELETED' and webhook_delivery.status = 'PENDING'`,
    ];
  }
}
