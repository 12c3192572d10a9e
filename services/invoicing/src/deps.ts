import type { PaymentProvider } from './adapters/payment-provider';
import type { CatalogClient } from './application/plans';

/** What use cases need from outside: built once per service (tests pass a sandbox they can inspect). */
export interface InvoicingDeps {
  catalog: CatalogClient | null;
  payments: PaymentProvider;
}
