import type { PaymentProvider } from './adapters/payment-provider';
import type { CatalogClient } from './application/plans';
import type { DunningPolicy, DunningStarter } from './ports/dunning';

/** What use cases need from outside: built once per service (tests pass a sandbox they can inspect). */
export interface InvoicingDeps {
  catalog: CatalogClient | null;
  payments: PaymentProvider;
  /** Starts dunning workflows; null when no Temporal is configured (then overdue invoices wait). */
  dunning: DunningStarter | null;
  policy: DunningPolicy;
}
