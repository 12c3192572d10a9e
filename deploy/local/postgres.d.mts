export function ensureEmbeddedPostgres(options: { log: (msg: string) => void; dataDir: string }): Promise<{ url: string; stop(): Promise<void> }>;
