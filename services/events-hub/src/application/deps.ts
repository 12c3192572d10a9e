import type { Clock, Knex, Logger } from '@ledgerline/platform';
import type { HubConfig } from '../config';
import type { CallbackPolicy } from '../domain/callback';
import type { HubMetrics } from '../metrics';

/** What the use cases need: the database, the clock, settings, and how to resolve a callback's host. */
export interface HubDeps {
  knex: Knex;
  clock: Clock;
  config: HubConfig;
  logger: Logger;
  metrics: HubMetrics;
  callbackPolicy: CallbackPolicy;
  /** Wakes the dispatcher after new deliveries were stored. */
  wake(): void;
}
