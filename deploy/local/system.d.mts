export const REPO_ROOT: string;
export const SERVICES: string[];
export const EVENTS_HUB: string;
export const DEFAULT_PORTS: Record<string, number>;
export function portsFromEnv(env?: Record<string, string | undefined>): Record<string, number>;
export function startSystem(options: {
  env: Record<string, string>;
  ports?: Record<string, number>;
  worker?: boolean;
  sink?: (line: string) => void;
  log?: (line: string) => void;
}): Promise<{ gatewayUrl: string; urls: Record<string, string>; eventsHubUrl: string; stop(): Promise<void>; failed(): string | null }>;
