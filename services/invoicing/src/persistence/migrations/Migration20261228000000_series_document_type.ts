import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * Number counters per document type and series: an account's invoice series is free text, and one
 * named like the credit notes' ('CN') or the receipts' ('RCT') shared their counter (gaps in both
 * legal sequences). The existing counters are kept: CN → CREDIT_NOTE, RCT → RECEIPT, the rest
 * INVOICE; an invoice series CN/RCT already used gets its own INVOICE counter from its highest
 * issued number (the shared counter's gaps stay as they are).
 */
export class Migration20261228000000_series_document_type extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      `alter table invoice_series add column document_type varchar(16) not null default 'INVOICE'`,
      `update invoice_series set document_type = 'CREDIT_NOTE' where series = 'CN'`,
      `update invoice_series set document_type = 'RECEIPT' where series = 'RCT'`,
      'alter table invoice_series drop constraint invoice_series_pkey',
      'alter table invoice_series add primary key (document_type, series)',
      `insert into invoice_series (document_type, series, last_number)
         select 'INVOICE', series, max(substring(number from '([0-9]+)$')::bigint) from invoice
          where series in ('CN', 'RCT') and number is not null group by series
         on conflict (document_type, series) do nothing`,
    ];
  }
}
