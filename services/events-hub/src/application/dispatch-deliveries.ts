import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterFailure, signatureHeader } from '../domain/delivery';
import { checkPublicHost, withoutCallbackQuery, type CallbackPolicy } from '../domain/callback';
import { hubSecretKeys } from '../config';
import { openSecret, secretsInForce, SecretUnreadableError } from '../domain/secrets';
import { claimDueDeliveries, recordAttempt, sendableDelivery, type ClaimedDelivery, type SendableDelivery } from '../persistence/store';
import type { HubDeps } from './deps';
import { pruneDeliveries } from './prune-deliveries';
import { settleHeldEvents } from './account-partners';
import { resealSecrets } from './seal-secrets';
import { settleUnknownTypeEvents } from './unknown-event-types';

/** How often (on the clock passed in) the dispatcher prunes finished deliveries, unless a backlog is left. */
export const PRUNE_INTERVAL_MS = 60_000;

export const TIMESTAMP_HEADER = 'x-ledgerline-timestamp';
export const SIGNATURE_HEADER = 'x-ledgerline-signature';

/**
 * Name resolution for a connection, through the hub's resolver (`policy.resolve`: c-ares, bounded, cached; never
 * Node's default getaddrinfo on libuv's threadpool). Production: the host is resolved once, checked
 * (`checkPublicHost`), and the socket connects to exactly the addresses that passed (no second lookup a rebinding DNS
 * could answer differently). Development: the addresses as resolved.
 */
function connectionLookup(policy: CallbackPolicy): LookupFunction {
  return (
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    const resolved = policy.production
      ? checkPublicHost(hostname, policy).catch((error: Error) => Promise.reject(Object.assign(error, { code: 'ECALLBACKBLOCKED' })))
      : policy.resolve(hostname).then((addresses) => {
          if (!addresses.length) throw Object.assign(new Error(`DNS has no address for "${hostname}"`), { code: 'ENOTFOUND' });
          return addresses;
        });
    resolved.then(
      (addresses) => {
        const all = addresses.map((address) => ({ address, family: isIP(address) }));
        if (options.all) callback(null, all);
        else callback(null, all[0]!.address, all[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}

/** One POST (no redirects followed, the whole attempt bounded by `timeoutMs`); the answer's status. */
function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number, lookup: LookupFunction): Promise<number> {
  const target = new URL(url);
  const signal = AbortSignal.timeout(timeoutMs);
  const send = target.protocol === 'https:' ? https.request : http.request;
  return new Promise<number>((resolve, reject) => {
    const req = send(
      target,
      { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal, lookup },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    req.on('error', (err) => reject(signal.aborted ? Object.assign(new Error(`timed out after ${timeoutMs} ms`), { name: 'TimeoutError' }) : err));
    req.end(body);
  });
}

/** The hub's secrets in force, opened; or, when a configured key does not open one, the reason (logged and counted). */
function openSecretsInForce(deps: HubDeps, d: ClaimedDelivery, sendable: SendableDelivery, now: Date): string[] | string {
  try {
    const keys = hubSecretKeys(deps.config);
    return secretsInForce(sendable.secret, sendable.previousSecrets, now).map((s) => openSecret(keys, d.subscriptionId, s));
  } catch (err) {
    if (!(err instanceof SecretUnreadableError)) throw err;
    deps.metrics.secretUnreadable();
    deps.logger.warn({ deliveryId: d.id, hubId: d.subscriptionId, keyId: err.keyId }, `webhook not sent: ${err.message}`);
    return `not sent: ${err.message}`;
  }
}

/**
 * POSTs one claimed delivery: the CloudEvent in structured mode, signed over `timestamp.body` with
 * each secret in force (the current one, then one a rotation replaced, during its overlap).
 * Checked first: a delivery cancelled meanwhile (its hub deleted while it was leased) or taken over
 * by someone else is not sent. 2xx → DELIVERED; anything else (status, timeout, refused connection,
 * a redirect, which is not followed) → another attempt after a backoff, or DEAD after the last one.
 */
export async function attemptDelivery(deps: HubDeps, d: ClaimedDelivery, random: () => number = Math.random): Promise<void> {
  // The send-time check, as late as can be before the POST (a DELETE that commits after it finds the POST on the wire).
  const sendable = await sendableDelivery(deps.knex, d);
  if (!sendable) {
    deps.logger.debug({ deliveryId: d.id, hubId: d.subscriptionId }, 'webhook delivery cancelled or taken over since it was claimed; not sent');
    return;
  }
  const now = deps.clock.now();
  const timestamp = Math.floor(now.getTime() / 1000);
  const started = performance.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  // A secret no configured key opens is never a POST signed wrongly: the attempt fails with that reason (backoff, then DEAD).
  const secrets = openSecretsInForce(deps, d, sendable, now);
  if (typeof secrets === 'string') error = secrets;
  else
    try {
      // Production: the host is checked again at each attempt (its DNS may have changed since registration),
      // an IP literal here, a name in the connection's own lookup (the addresses checked are the ones connected to).
      const host = new URL(sendable.callback).hostname;
      if (deps.config.production && isIP(host.replace(/^\[|\]$/g, ''))) await checkPublicHost(host, deps.callbackPolicy);
      statusCode = await post(
        sendable.callback,
        {
          'content-type': 'application/cloudevents+json',
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signatureHeader(secrets, timestamp, d.payload),
          'x-ledgerline-delivery-id': d.id,
          'user-agent': 'Ledgerline-Webhooks/1',
        },
        d.payload,
        deps.config.timeoutMs,
        connectionLookup(deps.callbackPolicy),
      );
      if (statusCode < 200 || statusCode > 299) error = `HTTP ${statusCode}`;
    } catch (err) {
      // Stored as lastError and logged: never with the callback's query string (partners carry tokens there).
      error =
        (err as Error).name === 'TimeoutError'
          ? `timed out after ${deps.config.timeoutMs} ms`
          : withoutCallbackQuery((err as Error).message ?? String(err), sendable.callback);
    }
  const seconds = (performance.now() - started) / 1000;
  const at = deps.clock.now();
  if (!error) {
    if (await recordAttempt(deps.knex, d, { status: 'DELIVERED', statusCode, error: null, at })) deps.metrics.attempt('DELIVERED', seconds);
    return;
  }
  const next = afterFailure(d.attempts + 1, at, deps.config.retry, random());
  const recorded = await recordAttempt(deps.knex, d, {
    status: next.status,
    nextAttemptAt: next.status === 'PENDING' ? next.nextAttemptAt : undefined,
    statusCode,
    error,
    at,
  });
  if (!recorded) return;
  deps.metrics.attempt(next.status === 'DEAD' ? 'DEAD' : 'RETRY', seconds);
  if (next.status === 'DEAD')
    deps.logger.warn({ deliveryId: d.id, hubId: d.subscriptionId, eventId: d.eventId, attempts: d.attempts + 1, error }, 'webhook delivery dead-lettered');
  else
    deps.logger.debug(
      { deliveryId: d.id, hubId: d.subscriptionId, attempts: d.attempts + 1, error, nextAttemptAt: next.nextAttemptAt },
      'webhook delivery failed; will retry',
    );
}

/**
 * Claims up to `batchSize` due deliveries (SKIP LOCKED), leased: past the time they may need (`concurrency`
 * at a time, each up to the timeout, behind the attempts already in flight: one round more), an unanswered
 * claim is due again (a dispatcher died mid-POST). Shorter, and another replica would claim deliveries
 * still queued here.
 */
export async function claimDue(deps: HubDeps, busy: ReadonlyMap<string, number> = new Map()): Promise<ClaimedDelivery[]> {
  const now = deps.clock.now();
  const rounds = Math.ceil(deps.config.batchSize / deps.config.concurrency);
  const leaseUntil = new Date(now.getTime() + deps.config.timeoutMs * (rounds + 1) + 30_000);
  return claimDueDeliveries(deps.knex, now, deps.config.batchSize, leaseUntil, { max: deps.config.concurrencyPerPartner, busy, workers: deps.config.concurrency });
}

const attemptLogged = (deps: HubDeps, d: ClaimedDelivery) =>
  attemptDelivery(deps, d).catch((err) =>
    deps.logger.error({ err, deliveryId: d.id }, 'webhook delivery attempt could not be recorded; due again after its lease'),
  );

/**
 * One pass: claims due deliveries (bounded batch, SKIP LOCKED) and sends them, `concurrency` in flight,
 * until all are tried. Returns how many it claimed.
 */
export async function dispatchDue(deps: HubDeps): Promise<number> {
  const claimed = await claimDue(deps);
  let next = 0;
  const worker = async () => {
    while (next < claimed.length) await attemptLogged(deps, claimed[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(deps.config.concurrency, claimed.length) }, worker));
  return claimed.length;
}

/**
 * The dispatcher loop: `concurrency` workers take claimed deliveries from a queue; the loop claims more
 * whenever the queue is empty and a worker is free (woken by new deliveries, a retry, a worker running
 * out of work, or every `pollMs`). It does not wait for a whole batch: a receiver that holds its POST
 * until the timeout keeps one worker, while the others go on with every other partner's deliveries
 * (waiting for the batch let one silent partner stall all of them for the timeout, pass after pass).
 * Every `PRUNE_INTERVAL_MS` of the clock (at once again while a backlog is left) a pass also applies
 * retention and encrypts any plain-text hub secret. `stop` claims nothing more and waits for the
 * deliveries already claimed.
 */
export function startDispatcher(
  deps: Omit<HubDeps, 'wake'>,
  /** Hubs start-up already reported unreadable (not logged again unless the set changes). */
  unreadableAtStart: readonly string[] = [],
): { wake(): void; stop(): Promise<void> } {
  let running = true;
  let wakeUp: (() => void) | undefined;
  let woken = false;
  let nextPruneAt = 0;
  let lastUnreadable = unreadableAtStart.join(',');
  const wake = () => {
    woken = true;
    wakeUp?.();
  };
  const full: HubDeps = { ...deps, wake };
  const queue: ClaimedDelivery[] = [];
  /** Workers in an attempt or about to take the next one: a queued delivery is always taken by one of them. */
  let active = 0;
  /**
   * Deliveries per owner (a partner's hubs together, or a hub without a partner) claimed and not yet tried (queued or
   * in an attempt): a claim takes each owner up to EVENTS_HUB_CONCURRENCY_PER_PARTNER.
   */
  const busy = new Map<string, number>();
  const workers = new Set<Promise<void>>();
  // A worker sends from the queue until it is empty, then ends (counted out at once) and wakes the loop to claim more.
  const startWorker = () => {
    active++;
    const worker = (async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        await attemptLogged(full, d);
        const left = (busy.get(d.owner) ?? 1) - 1;
        if (left > 0) busy.set(d.owner, left);
        else busy.delete(d.owner);
      }
      active--;
      wake();
    })();
    workers.add(worker);
    void worker.finally(() => workers.delete(worker));
  };
  const free = () => deps.config.concurrency - active;
  const loop = (async () => {
    while (running) {
      woken = false;
      let more = false;
      if (!queue.length && free() > 0) {
        try {
          const claimed = await claimDue(full, busy);
          more = claimed.length >= deps.config.batchSize;
          for (const d of claimed) busy.set(d.owner, (busy.get(d.owner) ?? 0) + 1);
          queue.push(...claimed);
        } catch (err) {
          if (running) deps.logger.warn({ err }, 'webhook dispatch pass failed');
        }
      }
      // Workers still in an attempt take from the queue after it; new ones for the free slots.
      for (let n = Math.min(free(), queue.length); n > 0; n--) startWorker();
      const now = deps.clock.now();
      if (running && now.getTime() >= nextPruneAt) {
        try {
          const pruned = await pruneDeliveries(deps, now, deps.config.retention);
          nextPruneAt = pruned.more ? now.getTime() : now.getTime() + PRUNE_INTERVAL_MS;
          // Events held for accounts placed since (a placement racing the hold), or never placed (dropped after the hold).
          // Events of types this hub did not know when read (their producer deployed first), once it knows them; first,
          // as those about accounts not placed yet join the held events settled next.
          await settleUnknownTypeEvents(full, now);
          await settleHeldEvents(full, now);
          // Secrets a replica of the previous version stored in plain text during a rolling upgrade, and values
          // under a previous EVENTS_HUB_SECRET_KEY (a key rotation), sealed again under the current key.
          const report = await resealSecrets(deps);
          deps.metrics.unreadableSecrets(report.unreadable.length);
          if (report.resealed) deps.logger.info({ resealed: report.resealed }, 'hub secrets sealed under the current EVENTS_HUB_SECRET_KEY');
          const unreadable = report.unreadable.map((e) => e.hubId).join(',');
          // Each hub once while it stays unreadable, not every minute.
          if (unreadable !== lastUnreadable)
            for (const e of report.unreadable) deps.logger.warn({ hubId: e.hubId, keyId: e.keyId }, `hub secret unreadable: ${e.message}`);
          lastUnreadable = unreadable;
        } catch (err) {
          nextPruneAt = now.getTime() + PRUNE_INTERVAL_MS;
          if (running) deps.logger.warn({ err }, 'webhook delivery retention pass failed');
        }
      }
      // A full claim: more is due, claimed as soon as the queue is empty with a worker free (a worker ending wakes the loop).
      if (woken || (more && !queue.length && free() > 0)) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deps.config.pollMs);
        wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeUp = undefined;
    }
  })();
  return {
    wake,
    async stop() {
      running = false;
      wakeUp?.();
      await loop;
      // The deliveries already claimed are tried (as a pass used to finish its batch); nothing more is claimed.
      while (workers.size) await Promise.all([...workers]);
    },
  };
}
