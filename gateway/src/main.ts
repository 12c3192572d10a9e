import { ConfigError } from '@ledgerline/platform';
import { startGateway } from './server';

try {
  const server = await startGateway();
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`ledgerline gateway: configuration error: ${error.message}\n`);
    process.exit(78);
  }
  throw error;
}
