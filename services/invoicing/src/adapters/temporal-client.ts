// One Temporal client per starter, connected on first use: the service starts (and bills) while
// Temporal is down, and a failed connection is tried again on the next call (the due-date job's
// next pass starts what could not be started).
import type { Client } from '@temporalio/client';

export interface TemporalClientOptions {
  /** An existing client (tests on Temporal's test server); else one is connected to `address`. */
  client?: Client;
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

/** A function giving the client, connecting it the first time (and again after a failure). */
export function lazyTemporalClient(options: TemporalClientOptions): () => Promise<Client> {
  let client: Promise<Client> | null = options.client ? Promise.resolve(options.client) : null;
  return () =>
    (client ??= (async () => {
      const { Client, Connection } = await import('@temporalio/client');
      const connection = await Connection.connect({ address: options.address });
      return new Client({ connection, namespace: options.namespace ?? 'default' });
    })().catch((error) => {
      client = null;
      throw error;
    }));
}
