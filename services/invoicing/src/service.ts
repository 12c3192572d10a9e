import { entityLoader, groupLoader, type Em, type ServiceDefinition } from '@ledgerline/platform';
import { CreditNote, CreditNoteLine, entities, Invoice, InvoiceLine, Payment } from './persistence/entities';
import { migrations } from './persistence/migrations';
import { resolvers } from './graphql/resolvers';
import { SandboxPaymentProvider } from './adapters/payment-provider';
import { CatalogClient } from './application/plans';
import { startConsumer } from './events/consumer';
import { startBillRunRunner } from './events/bill-run-runner';
import type { InvoicingDeps } from './deps';

export interface InvoicingOptions {
  deps?: Partial<InvoicingDeps>;
  /** Consume events from NATS (default true). */
  consume?: boolean;
  /** Run SERVICE-driven bill runs in this process (default true). */
  runBillRuns?: boolean;
}

export function createInvoicingService(options: InvoicingOptions = {}): ServiceDefinition {
  const deps: InvoicingDeps = {
    catalog: options.deps?.catalog !== undefined ? options.deps.catalog : process.env.CATALOG_URL ? new CatalogClient(process.env.CATALOG_URL) : null,
    payments: options.deps?.payments ?? new SandboxPaymentProvider(),
  };
  let nudge: () => void = () => undefined;
  return {
    name: 'invoicing',
    schemaPath: new URL('../schema.graphql', import.meta.url),
    entities,
    migrations,
    resolvers: resolvers as never,
    context: ({ em }: { em: Em }) => ({
      deps,
      nudgeBillRuns: () => nudge(),
      invoices: entityLoader(em, Invoice),
      invoicesOfAccount: groupLoader((ids) => em.find(Invoice, { billingAccountId: { $in: [...ids] } }, { orderBy: { periodStart: 'desc' } }), (i) => i.billingAccountId),
      linesOfInvoice: groupLoader((ids) => em.find(InvoiceLine, { invoiceId: { $in: [...ids] } }, { orderBy: { position: 'asc' } }), (l) => l.invoiceId),
      paymentsOfInvoice: groupLoader((ids) => em.find(Payment, { invoiceId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc' } }), (p) => p.invoiceId ?? ''),
      creditNotesOfInvoice: groupLoader((ids) => em.find(CreditNote, { invoiceId: { $in: [...ids] } }, { orderBy: { createdAt: 'asc' } }), (c) => c.invoiceId),
      linesOfCreditNote: groupLoader((ids) => em.find(CreditNoteLine, { creditNoteId: { $in: [...ids] } }), (l) => l.creditNoteId),
    }),
    background: async (runtime) => {
      const stopConsumer = options.consume === false ? async () => undefined : await startConsumer(runtime);
      const runner = options.runBillRuns === false ? null : startBillRunRunner(runtime, deps);
      if (runner) nudge = runner.nudge;
      return async () => {
        await runner?.stop();
        await stopConsumer();
      };
    },
  };
}

export const invoicingService = createInvoicingService();
