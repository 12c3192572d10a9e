import { PortableMigration, type Knex } from '@ledgerline/platform';

/**
 * The customer's name an invoice was issued to, kept on the invoice: its document prints it. An issued
 * invoice is a legal document and must read the same whenever it is rendered; the document read the
 * account's name at each rendering, so renaming the account (registerBillingAccount) changed every invoice
 * already issued to it. Written when the invoice is issued (`issueInvoices`); a draft's document still
 * follows the account, as its number and due date do, so drafts keep null here.
 *
 * Backfill, issued invoices only: the account's current name. The name at issue was never kept, so this is
 * the best available: it is what their documents print until now, so no document changes at the deploy;
 * for an invoice issued before its account was last renamed it is the later name, and nothing kept says
 * which it was issued to. An invoice of an account invoicing does not know keeps null (its document
 * printed, and prints, the account id).
 */
export class Migration20270127000000_invoice_customer_name extends PortableMigration {
  protected override statements(_knex: Knex): string[] {
    return [
      'alter table invoice add column customer_name varchar(200) null',
      `update invoice i set customer_name = a.customer_name from billing_account a where a.id = i.billing_account_id and i.issued_at is not null`,
    ];
  }
}
