import { runServiceMain } from '@ledgerline/platform';
import { createInvoicingService } from './service';
import { TemporalDunningStarter } from './adapters/temporal-dunning';
import { dunningPolicyFromEnv } from './ports/dunning';
import { TemporalDisputeStarter } from './adapters/temporal-disputes';
import { disputePolicyFromEnv } from './ports/disputes';

// With TEMPORAL_ADDRESS set, overdue invoices start the dunning workflow (the worker in workflows/
// registers dunningWorkflow); without it they wait (and the service says so in its log).
const dunning = process.env.TEMPORAL_ADDRESS
  ? new TemporalDunningStarter({ address: process.env.TEMPORAL_ADDRESS, namespace: process.env.TEMPORAL_NAMESPACE, taskQueue: process.env.TEMPORAL_TASK_QUEUE })
  : null;
if (!dunning) process.stdout.write(`${JSON.stringify({ level: 40, name: 'invoicing', msg: 'TEMPORAL_ADDRESS is not set: overdue invoices do not start dunning' })}\n`);
// Disputes start `disputeResolutionWorkflow` the same way; without Temporal they wait OPEN (the
// due-date job starts them once TEMPORAL_ADDRESS is set and the service restarted).
const disputes = process.env.TEMPORAL_ADDRESS
  ? new TemporalDisputeStarter({ address: process.env.TEMPORAL_ADDRESS, namespace: process.env.TEMPORAL_NAMESPACE, taskQueue: process.env.TEMPORAL_TASK_QUEUE })
  : null;
await runServiceMain(createInvoicingService({ deps: { dunning, policy: dunningPolicyFromEnv(), disputes, disputePolicy: disputePolicyFromEnv() } }));
