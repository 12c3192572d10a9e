import { ConfigError } from '@ledgerline/platform';
import { SERVICE_NAME, startEventsHub, type RunningHub } from './service';

// Start-up only: settings, then the hub; one line on a bad setting (exit 78, as the subgraphs do).
let running: RunningHub;
try {
  running = await startEventsHub();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`ledgerline ${SERVICE_NAME}: configuration error: ${error.message}\n`);
    process.exit(78);
  }
  throw error;
}
let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  running.logger.info({ signal }, 'shutting down');
  void running.close().then(() => process.exit(0));
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
