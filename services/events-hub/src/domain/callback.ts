import { BlockList, isIP } from 'node:net';
import { DomainError } from '@ledgerline/contracts';

/**
 * Where a hub may point. Production (NODE_ENV=production): https only, and the host must not be
 * (or resolve to) a loopback, private, link-local, CGNAT or otherwise internal address, so a
 * partner cannot make Ledgerline POST into its own network (SSRF). Development allows http and
 * local receivers (http://127.0.0.1:…).
 */
const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  INTERNAL.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  // IPv4-compatible (deprecated), NAT64 (64:ff9b::/96, local-use 64:ff9b:1::/48) and 6to4: an IPv4 address inside.
  ['::', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['2002::', 16],
  ['100::', 64],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  INTERNAL.addSubnet(net, prefix, 'ipv6');

const badCallback = (message: string) => new DomainError('HUB_CALLBACK_INVALID', message, { field: 'callback' }, 'BAD_USER_INPUT');

/** Whether an IP address is one a production hub may not call. */
export function isInternalAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isInternalAddress(mapped[1]!);
  const family = isIP(address);
  if (family === 4) return INTERNAL.check(address, 'ipv4');
  if (family === 6) return INTERNAL.check(address, 'ipv6');
  return true;
}

export interface CallbackPolicy {
  production: boolean;
  /**
   * Resolves a host name to its addresses: the hub's bounded resolver (`createHostResolver`, c-ares, never the
   * threadpool's getaddrinfo); a failure with code ETIMEOUT carries the reason (no answer in time).
   */
  resolve(host: string): Promise<string[]>;
}

export const MAX_CALLBACK_LENGTH = 2048;

/** Checks a callback URL; throws a 400 naming `callback`. Returns the URL, normalised. */
export async function checkCallback(raw: unknown, policy: CallbackPolicy): Promise<string> {
  if (typeof raw !== 'string' || !raw.trim()) throw badCallback('callback is required: the https URL Ledgerline POSTs events to');
  if (raw.length > MAX_CALLBACK_LENGTH) throw badCallback(`callback is longer than ${MAX_CALLBACK_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    // Not echoed: a partner's URL may carry a token (in its query), and error bodies end up in logs.
    throw badCallback('callback is not a URL');
  }
  if (url.username || url.password) throw badCallback('callback must not carry credentials; the signature authenticates Ledgerline');
  if (url.hash) throw badCallback('callback must not have a #fragment');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !policy.production))
    throw badCallback(policy.production ? 'callback must be an https URL' : 'callback must be an http or https URL');
  if (policy.production) await checkPublicHost(url.hostname, policy);
  return url.toString();
}

/**
 * A callback as logs may show it: origin and path, the query string replaced by `?[redacted]` (partners
 * carry tokens there). The hub API still shows the partner its whole callback; logs never do.
 */
export function callbackForLog(callback: string): string {
  try {
    const url = new URL(callback);
    return `${url.origin}${url.pathname}${url.search ? '?[redacted]' : ''}`;
  } catch {
    return '[not a URL]';
  }
}

/** A message about an attempt to `callback` (an error from the HTTP client) with the callback's query string, wherever it appears, redacted. */
export function withoutCallbackQuery(message: string, callback: string): string {
  let search: string;
  try {
    search = new URL(callback).search;
  } catch {
    return message;
  }
  if (!search) return message;
  // The whole URL, then its `?query` wherever else it shows (a path with its query), never bare substrings of it.
  return message.split(callback).join(callbackForLog(callback)).split(search).join('?[redacted]');
}

/** Production: the host is a public address, or resolves only to public ones. Returns those addresses (connect to these, not to a second lookup). */
export async function checkPublicHost(hostname: string, policy: CallbackPolicy): Promise<string[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (/^localhost$|\.localhost$|\.local$|\.internal$/i.test(host)) throw badCallback(`callback host "${host}" is internal`);
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = await policy.resolve(host);
    } catch (err) {
      // A DNS server that did not answer in time is said so (a delivery retries it later); other failures as before.
      const timedOut = (err as { code?: unknown }).code === 'ETIMEOUT';
      throw badCallback(`callback host "${host}" does not resolve${timedOut ? `: ${(err as Error).message}` : ''}`);
    }
  }
  if (!addresses.length) throw badCallback(`callback host "${host}" does not resolve`);
  const internal = addresses.find(isInternalAddress);
  if (internal) throw badCallback(`callback host "${host}" resolves to ${internal}, a loopback or private address`);
  return addresses;
}
