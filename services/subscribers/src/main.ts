import { runServiceMain } from '@ledgerline/platform';
import { createSubscribersService, subscribersService } from './service';
import { TemporalOrderDispatcher } from './ports/temporal-order-dispatcher';

// ORDER_FULFILMENT=temporal hands orders to the Temporal order workflow (the worker in workflows/
// must register orderFulfilmentWorkflow); otherwise they are fulfilled in-process by the same saga.
if (process.env.ORDER_FULFILMENT === 'temporal') {
  const { Client, Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
  await runServiceMain(createSubscribersService({ dispatcher: new TemporalOrderDispatcher(client, process.env.TEMPORAL_TASK_QUEUE ?? 'ledgerline') }));
} else {
  await runServiceMain(subscribersService);
}
