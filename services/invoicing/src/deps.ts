import type { PaymentProvider } from './adapters/payment-provider';
import type { CatalogClient } from './application/plans';
import type { DunningPolicy, DunningStarter } from './ports/dunning';
import type { AutopayTokens } from './ports/autopay-tokens';
import type { DisputePolicy, DisputeStarter } from './ports/disputes';
import type { DisputeRules } from './domain/disputes';
import type { ApprovalLimits } from '@ledgerline/contracts';
import type { TellDisputesClosed } from './application/disputes-closed-by-bill';
import type { TellCreditNotesIssued } from './application/credit-notes-told';
import type { TellCreditPaid } from './application/credit-paid-told';

/** What use cases need from outside: built once per service (tests pass a sandbox they can inspect). */
export interface InvoicingDeps {
  catalog: CatalogClient | null;
  payments: PaymentProvider;
  /** Starts dunning workflows; null when no Temporal is configured (then overdue invoices wait). */
  dunning: DunningStarter | null;
  policy: DunningPolicy;
  /** Autopay tokens kept by subscribers (SUBSCRIBERS_URL); null: only tokens registered here are charged. */
  autopayTokens: AutopayTokens | null;
  /** Starts and pokes dispute workflows; null when no Temporal is configured (the due-date job starts them later). */
  disputes: DisputeStarter | null;
  /** The SLA policy dispute workflows run with and disputes show (DISPUTE_POLICY, else DEFAULT_DISPUTE_POLICY). */
  disputePolicy: DisputePolicy;
  /** The auto-assessment rules (catalog/disputes/auto-assessment.json), checked at start-up. */
  disputeRules: DisputeRules;
  /** How much an AGENT credits, refunds or accepts alone per currency (LEDGERLINE_APPROVAL_LIMITS over the defaults, checked at start-up). */
  approvalLimits: ApprovalLimits;
  /** How much an AGENT credits, refunds and accepts alone in a rolling 24 h per currency (LEDGERLINE_APPROVAL_DAILY_LIMITS over the defaults, checked at start-up). */
  approvalDailyLimits: ApprovalLimits;
  /** How long an approval request can be approved (LEDGERLINE_APPROVAL_TTL_HOURS, default 72, checked at start-up); the due-date pass then marks it EXPIRED. */
  approvalTtlHours: number;
  /** Signals the workflows of disputes a bill closed once it commits; set when the service starts (disputesClosedTeller). */
  tellDisputesClosed?: TellDisputesClosed | null;
  /** Signals dunning and disputes of credit notes a use case issued on its own (the closure credit) once they commit; set when the service starts (creditNotesTeller). */
  tellCreditNotesIssued?: TellCreditNotesIssued | null;
  /** Signals the dunning of invoices a bill run's credit paid once the bill commits; set when the service starts (creditPaidTeller). */
  tellCreditPaid?: TellCreditPaid | null;
}
