import { approvalDailyLimitsFromEnv, approvalLimitsFromEnv, approvalTtlHoursFromEnv } from '@ledgerline/contracts';
import { entityLoader, groupLoader, type Em, type ServiceDefinition } from '@ledgerline/platform';
import { CreditNote, CreditNoteLine, Dispute, entities, Invoice, InvoiceLine, Payment, Refund } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers } from './graphql/resolvers';
import { SubscribersAutopayTokens } from './ports/autopay-tokens';
import { SandboxPaymentProvider } from './adapters/payment-provider';
import { CatalogClient } from './application/plans';
import { startConsumer } from './events/consumer';
import { startBillRunRunner } from './events/bill-run-runner';
import { runCollections, startCollectionsRunner } from './application/collections';
import { DEFAULT_DUNNING_POLICY } from './ports/dunning';
import { loadDisputeRules } from './application/disputes';
import { DEFAULT_DISPUTE_POLICY } from './domain/disputes';
import { registerBillRunSetAside, registerDisputeGauges, registerUnappliedPayments, registerUnbilledAfterClose } from './application/metrics';
import { rows } from './application/sql';
import { expireApprovalRequests, pendingDisputeApprovals } from './application/approvals';
import type { InvoicingDeps } from './deps';
import { registerAfterCommit } from './application/after-commit';
import { disputesClosedTeller } from './application/disputes-closed-by-bill';
import { creditNotesTeller } from './application/credit-notes-told';
import { creditPaidTeller } from './application/credit-paid-told';

export interface InvoicingOptions {
  deps?: Partial<InvoicingDeps>;
  /** Consume events from NATS (default true). */
  consume?: boolean;
  /** Run SERVICE-driven bill runs in this process (default true). */
  runBillRuns?: boolean;
  /** Run the due-date job (autopay, dunning start) in this process (default true). */
  collections?: boolean;
  /** Pause between due-date job passes (default INVOICING_DUE_DATE_INTERVAL_MS or 60 s). */
  collectionsIntervalMs?: number;
}

export function createInvoicingService(options: InvoicingOptions = {}): ServiceDefinition {
  const deps: InvoicingDeps = {
    catalog: options.deps?.catalog !== undefined ? options.deps.catalog : process.env.CATALOG_URL ? new CatalogClient(process.env.CATALOG_URL) : null,
    payments: options.deps?.payments ?? new SandboxPaymentProvider(),
    dunning: options.deps?.dunning ?? null,
    policy: options.deps?.policy ?? DEFAULT_DUNNING_POLICY,
    autopayTokens: options.deps?.autopayTokens !== undefined ? options.deps.autopayTokens : SubscribersAutopayTokens.fromEnv(),
    disputes: options.deps?.disputes ?? null,
    disputePolicy: options.deps?.disputePolicy ?? DEFAULT_DISPUTE_POLICY,
    // Checked here: a bad rules file stops the service at start-up, naming each problem.
    disputeRules: options.deps?.disputeRules ?? loadDisputeRules(),
    // Likewise LEDGERLINE_APPROVAL_LIMITS and LEDGERLINE_APPROVAL_DAILY_LIMITS: a bad setting stops start-up, naming it.
    approvalLimits: options.deps?.approvalLimits ?? approvalLimitsFromEnv(),
    approvalDailyLimits: options.deps?.approvalDailyLimits ?? approvalDailyLimitsFromEnv(),
    approvalTtlHours: options.deps?.approvalTtlHours ?? approvalTtlHoursFromEnv(),
  };
  let nudge: () => void = () => undefined;
  let nudgeCollections: () => void = () => undefined;
  return {
    name: 'invoicing',
    schemaPath: new URL('../schema.graphql', import.meta.url),
    entities,
    migrations,
    resolvers: resolvers as never,
    context: ({ em }: { em: Em }) => ({
      deps,
      nudgeBillRuns: () => nudge(),
      nudgeCollections: () => nudgeCollections(),
      invoices: entityLoader(em, Invoice),
      invoicesOfAccount: groupLoader((ids) => em.find(Invoice, { billingAccountId: { $in: [...ids] } }, { orderBy: { periodStart: 'desc' } }), (i) => i.billingAccountId),
      linesOfInvoice: groupLoader((ids) => em.find(InvoiceLine, { invoiceId: { $in: [...ids] } }, { orderBy: { position: 'asc' } }), (l) => l.invoiceId),
      paymentsOfInvoice: groupLoader((ids) => em.find(Payment, { invoiceId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc' } }), (p) => p.invoiceId ?? ''),
      refundsOfPayment: groupLoader((ids) => em.find(Refund, { paymentId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } }), (r) => r.paymentId),
      creditNotesOfInvoice: groupLoader((ids) => em.find(CreditNote, { invoiceId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc' } }), (c) => c.invoiceId),
      linesOfCreditNote: groupLoader((ids) => em.find(CreditNoteLine, { creditNoteId: { $in: [...ids] } }), (l) => l.creditNoteId),
      disputesOfInvoice: groupLoader((ids) => em.find(Dispute, { invoiceId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc', id: 'asc' } }), (d) => d.invoiceId),
      pendingApprovalsOfDispute: groupLoader((ids) => pendingDisputeApprovals(em, ids), (r) => r.subject_id),
    }),
    background: async (runtime) => {
      // Before any transaction of this service: signals queued by use cases go out once their bill commits.
      registerAfterCommit(runtime.orm.em as Em, (err, msg) => runtime.logger.warn({ err }, msg));
      deps.tellDisputesClosed = disputesClosedTeller(runtime, deps);
      deps.tellCreditNotesIssued = creditNotesTeller(runtime, deps);
      deps.tellCreditPaid = creditPaidTeller(runtime, deps);
      registerDisputeGauges(runtime.metrics, (text, params) => rows(runtime.orm.em.fork() as Em, text, params), () => runtime.clock.now());
      registerUnbilledAfterClose(runtime.metrics, (text, params) => rows(runtime.orm.em.fork() as Em, text, params));
      registerBillRunSetAside(runtime.metrics, (text, params) => rows(runtime.orm.em.fork() as Em, text, params));
      registerUnappliedPayments(runtime.metrics, (text, params) => rows(runtime.orm.em.fork() as Em, text, params), () => runtime.clock.now());
      const stopConsumer = options.consume === false ? async () => undefined : await startConsumer(runtime, deps);
      const runner = options.runBillRuns === false ? null : startBillRunRunner(runtime, deps);
      if (runner) nudge = runner.nudge;
      const warn = (err: unknown, msg: string) => runtime.logger.warn({ err }, msg);
      const collections =
        options.collections === false
          ? null
          : startCollectionsRunner(
              async () => {
                // Stale approval requests first, on their own: a failing step must not stop the other.
                const expired = await expireApprovalRequests(runtime.orm.em.fork() as Em, runtime.clock.now(), deps.approvalTtlHours).catch((err: unknown) => (warn(err, 'expiring approval requests failed; the next pass tries again'), []));
                if (expired.length > 0) runtime.relay.nudge();
                return runCollections(() => runtime.orm.em.fork() as Em, deps, runtime.clock.now(), { warn });
              },
              warn,
              options.collectionsIntervalMs ?? Number(process.env.INVOICING_DUE_DATE_INTERVAL_MS ?? 60_000),
            );
      if (collections) nudgeCollections = collections.nudge;
      return async () => {
        await collections?.stop();
        await runner?.stop();
        await stopConsumer();
      };
    },
  };
}

export const invoicingService = createInvoicingService();
