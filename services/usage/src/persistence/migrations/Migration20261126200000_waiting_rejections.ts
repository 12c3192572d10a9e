import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';
import { WAITING_CODES } from '../../domain/waiting-codes';

/**
 * Records rejected only because usage did not know their line yet (see WAITING_CODES) are looked
 * up by line and by MSISDN whenever a subscribers event arrives: small partial indexes, so the
 * lookup never reads a busy line's rated records.
 */
export class Migration20261126200000_waiting_rejections extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    const waiting = knex.whereRaw(`status = 'REJECTED' and rejection_code in (${WAITING_CODES.map((c) => `'${c}'`).join(', ')})`);
    return schemaSql(
      knex.schema.alterTable('usage_record', (t) => {
        t.index(['line_id'], 'usage_record_waiting_line_idx', { predicate: waiting });
        t.index(['msisdn'], 'usage_record_waiting_msisdn_idx', { predicate: waiting });
      }),
    );
  }
}
