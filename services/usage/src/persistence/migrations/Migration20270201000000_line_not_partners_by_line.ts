import { PortableMigration, schemaSql, type Knex } from '@ledgerline/platform';
import { LINE_NOT_PARTNERS } from '../../domain/partner-usage';

/**
 * A partner's records refused as LINE_NOT_PARTNERS are looked up by line whenever subscribers' billingaccount events
 * assign an account to a partner (consumer `owners`: reprocessPartnersRecords), to rate those of the account's lines
 * the partner sent before usage knew the account was its: a small partial index, so the look-up never reads a busy
 * line's rated records.
 */
export class Migration20270201000000_line_not_partners_by_line extends PortableMigration {
  protected override statements(knex: Knex): string[] {
    const refused = knex.whereRaw(`status = 'REJECTED' and rejection_code = '${LINE_NOT_PARTNERS}'`);
    return schemaSql(knex.schema.alterTable('usage_record', (t) => t.index(['line_id'], 'usage_record_line_not_partners_idx', { predicate: refused })));
  }
}
