import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * How the hub resolves partners' callback hosts: through c-ares (`dns.promises.Resolver`, its own sockets, no
 * thread of libuv's pool), never Node's default `dns.lookup` (getaddrinfo on the pool's 4 threads: a partner whose
 * DNS server never answers held a thread per lookup for the system resolver's whole timeout, and a few such lookups
 * stalled every other partner's deliveries and any fs or crypto work of the process).
 *
 * Each lookup is bounded by `timeoutMs` (then it fails with code ETIMEOUT and a reason naming the host); lookups of
 * one host share one query while it is in flight; answers are cached by their TTL (at most `maxTtlSeconds`),
 * failures for `negativeTtlMs`, so a burst of deliveries to a silent partner costs one timeout, not one each.
 * Addresses only: whether a production hub may call them is `checkPublicHost`'s decision (domain/callback.ts).
 */
export interface HostResolverOptions {
  /** DNS servers (`ip`, `ip:port`, `[ipv6]:port`); empty: the system's (resolv.conf, read at start-up). */
  servers: readonly string[];
  /** Most one lookup may take, all servers and tries included (ms). */
  timeoutMs: number;
  /**
   * Development only: a name DNS says does not exist is asked of the system's resolver too (/etc/hosts,
   * `localhost`), which does use the threadpool. Production never (its callbacks are public DNS names).
   */
  systemFallback?: boolean;
  maxTtlSeconds?: number;
  negativeTtlMs?: number;
  /** Monotonic milliseconds (cache expiry). */
  now?: () => number;
}

export type ResolveHost = (host: string) => Promise<string[]>;

const MAX_CACHED_HOSTS = 10_000;

/** A lookup that failed: `code` ETIMEOUT (no answer in time), ENOTFOUND (no address), or the resolver's own code. */
export class HostLookupError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostLookupError';
  }
}

/** Throws on a server list `Resolver.setServers` refuses (the caller names the setting). */
export function createHostResolver(options: HostResolverOptions): ResolveHost {
  const { timeoutMs, systemFallback = false, maxTtlSeconds = 300, negativeTtlMs = 10_000, now = () => performance.now() } = options;
  // c-ares's own bound: a lost datagram is tried again inside the lookup's time; the deadline below bounds the rest.
  const resolver = new dns.Resolver({ timeout: Math.max(1, Math.ceil(timeoutMs / 2)), tries: 2 });
  if (options.servers.length) resolver.setServers([...options.servers]);
  const cache = new Map<string, { until: number; addresses?: string[]; error?: HostLookupError }>();
  const inFlight = new Map<string, Promise<string[]>>();

  const remember = (host: string, entry: { until: number; addresses?: string[]; error?: HostLookupError }) => {
    cache.delete(host);
    cache.set(host, entry);
    if (cache.size > MAX_CACHED_HOSTS) cache.delete(cache.keys().next().value!);
  };

  const query = async (host: string): Promise<{ addresses: string[]; ttl: number }> => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(host, { ttl: true }), resolver.resolve6(host, { ttl: true })]);
    const records = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (records.length) return { addresses: records.map((r) => r.address), ttl: Math.min(...records.map((r) => r.ttl)) };
    const codes = [v4, v6].map((r) => (r.status === 'rejected' ? String((r.reason as NodeJS.ErrnoException).code ?? 'ESERVFAIL') : 'ENODATA'));
    const noSuchName = codes.every((c) => c === 'ENOTFOUND' || c === 'ENODATA');
    if (noSuchName && systemFallback) {
      const system = await dns.lookup(host, { all: true }).catch(() => []);
      if (system.length) return { addresses: system.map((a) => a.address), ttl: 0 };
    }
    if (noSuchName) throw new HostLookupError('ENOTFOUND', `DNS has no address for "${host}"`);
    const code = codes.find((c) => c !== 'ENOTFOUND' && c !== 'ENODATA')!;
    throw new HostLookupError(code, `DNS lookup of "${host}" failed (${code})`);
  };

  const lookup = (host: string): Promise<string[]> => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HostLookupError('ETIMEOUT', `DNS did not answer for "${host}" within ${timeoutMs} ms`)), timeoutMs);
    });
    // The query left behind by a deadline ends by c-ares's own timeout (no thread held meanwhile); its answer is dropped.
    return Promise.race([query(host), deadline]).then(
      ({ addresses, ttl }) => {
        clearTimeout(timer);
        remember(host, { until: now() + Math.min(Math.max(ttl, 1), maxTtlSeconds) * 1000, addresses });
        return addresses;
      },
      (err: unknown) => {
        clearTimeout(timer);
        const error = err instanceof HostLookupError ? err : new HostLookupError('ESERVFAIL', `DNS lookup of "${host}" failed`);
        remember(host, { until: now() + negativeTtlMs, error });
        throw error;
      },
    );
  };

  return async (name: string) => {
    const host = name.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
    if (isIP(host)) return [host];
    // RFC 6761: loopback, never asked of DNS (production refuses these names before resolving: checkPublicHost).
    if (host === 'localhost' || host.endsWith('.localhost')) return ['127.0.0.1', '::1'];
    const cached = cache.get(host);
    if (cached && cached.until > now()) {
      if (cached.error) throw new HostLookupError(cached.error.code, cached.error.message);
      return cached.addresses!;
    }
    let pending = inFlight.get(host);
    if (!pending) {
      pending = lookup(host).finally(() => inFlight.delete(host));
      inFlight.set(host, pending);
    }
    return pending;
  };
}
