import type { PaymentProvider } from './adapters/payment-provider';
import type { CatalogClient } from './application/plans';
import type { DunningPolicy, DunningStarter } from './ports/dunning';
import type { AutopayTokens } from './ports/autopay-tokens';

/** What use cases need from outside: built once per service (tests pass a sandbox they can inspect). */
export interface InvoicingDeps {
  catalog: CatalogClient | null;
  payments: PaymentProvider;
  /** Starts dunning workflows; null when no Temporal is configured (then overdue invoices wait). */
  dunning: DunningStarter | null;
  policy: DunningPolicy;
  /** Autopay tokens kept by subscribers (SUBSCRIBERS_URL); null: only tokens registered here are charged. */
  autopayTokens: AutopayTokens | null;
}
