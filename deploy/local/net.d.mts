export function isListening(host: string, port: number, timeoutMs?: number): Promise<boolean>;
export function freePort(host?: string): Promise<number>;
export function freeStablePort(host?: string): Promise<number>;
export function waitFor(check: () => Promise<boolean> | boolean, options?: { timeoutMs?: number; intervalMs?: number; what?: string }): Promise<void>;
export function hostPort(url: string): { host: string; port: number };
