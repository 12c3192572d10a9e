// Typed access to deploy/local/temporal.mjs (plain JS, shared with `npm start` and CI).
// Loaded by URL so TypeScript does not need declarations for the .mjs file.
export interface EnsuredTemporal {
  address: string;
  source: 'env' | 'running' | 'started';
  pid?: number;
  stop(): Promise<void>;
}

interface TemporalScript {
  ensureTemporal(opts: { log?: (msg: string) => void; dataDir?: string; port?: number; install?: boolean }): Promise<EnsuredTemporal>;
  findTestServerBinary(opts?: { log?: (msg: string) => void; install?: boolean }): Promise<string | null>;
  findFreePort(): Promise<number>;
}

const scriptUrl = new URL('../../../deploy/local/temporal.mjs', import.meta.url).href;

export async function temporalScript(): Promise<TemporalScript> {
  return (await import(/* @vite-ignore */ scriptUrl)) as TemporalScript;
}
