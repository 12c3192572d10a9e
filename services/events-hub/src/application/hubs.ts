import { randomBytes } from 'node:crypto';
import { DomainError, type Caller } from '@ledgerline/contracts';
import { callbackForLog, checkCallback } from '../domain/callback';
import { parseHubQuery } from '../domain/query';
import { previousSecretExpiresAt, sealSecret } from '../domain/secrets';
import { findActiveHub, insertHubWithinLimit, listActiveHubs, markHubDeleted, type HubRow } from '../persistence/store';
import { hubNotFound, hubScope, PARTNER_ID_MAX_LENGTH } from './authorization';
import type { HubDeps } from './deps';

/** A hub as TMF688 shows it (a secret only once: in the answer to its registration or to the rotation that made it). */
export interface HubView {
  id: string;
  href: string;
  callback: string;
  query: string;
  partnerId: string | null;
  createdAt: string;
  /** The last secret rotation (null: never rotated). */
  secretRotatedAt: string | null;
  /** Until when deliveries also carry a signature made with a rotated-out secret (null: only the current one now). */
  previousSecretExpiresAt: string | null;
}

export const HUB_PATH = '/tmf-api/eventManagement/v4/hub';

export function viewOf(hub: HubRow, now: Date): HubView {
  return {
    id: hub.id,
    href: `${HUB_PATH}/${hub.id}`,
    callback: hub.callback,
    query: hub.query,
    partnerId: hub.partnerId,
    createdAt: hub.createdAt.toISOString(),
    secretRotatedAt: hub.secretRotatedAt?.toISOString() ?? null,
    previousSecretExpiresAt: previousSecretExpiresAt(hub.previousSecrets, now)?.toISOString() ?? null,
  };
}

/** A new hub secret: 32 random bytes, base64url (what the partner keys its HMAC with). */
export const newHubSecret = (): string => randomBytes(32).toString('base64url');

export async function registerHub(deps: HubDeps, caller: Caller, input: unknown): Promise<HubView & { secret: string }> {
  const scope = hubScope(caller);
  if (!input || typeof input !== 'object' || Array.isArray(input))
    throw new DomainError(
      'HUB_INPUT_INVALID',
      'The body must be a JSON object {"callback": "https://…", "query": "eventType=…"}',
      { field: 'body' },
      'BAD_USER_INPUT',
    );
  const body = input as { callback?: unknown; query?: unknown; partnerId?: unknown };
  const callback = await checkCallback(body.callback, deps.callbackPolicy);
  const filter = parseHubQuery(body.query);
  let partnerId: string | null = scope?.partnerId ?? null;
  if (!scope && body.partnerId !== undefined && body.partnerId !== null) {
    if (typeof body.partnerId !== 'string' || !body.partnerId.trim() || body.partnerId.trim().length > PARTNER_ID_MAX_LENGTH)
      throw new DomainError('HUB_INPUT_INVALID', `partnerId must be a non-empty string of at most ${PARTNER_ID_MAX_LENGTH} characters`, { field: 'partnerId' }, 'BAD_USER_INPUT');
    partnerId = body.partnerId.trim();
  }
  const id = `hub_${randomBytes(12).toString('hex')}`;
  const secret = newHubSecret();
  const hub: HubRow = {
    id,
    partnerId,
    callback,
    query: typeof body.query === 'string' ? body.query : '',
    filter,
    secret: sealSecret(deps.config.secretKey, id, secret),
    previousSecrets: [],
    secretRotatedAt: null,
    status: 'ACTIVE',
    replayGeneration: 0,
    createdAt: deps.clock.now(),
  };
  const max = deps.config.maxHubsPerPartner;
  const active = await insertHubWithinLimit(deps.knex, hub, max);
  if (active !== null)
    throw new DomainError(
      'HUB_LIMIT_REACHED',
      `Partner ${partnerId} already has ${active} active hubs, the most allowed (EVENTS_HUB_MAX_HUBS_PER_PARTNER = ${max}): delete a hub it no longer uses (DELETE ${HUB_PATH}/{id}) or register one hub per integration, not one per deploy`,
      { limit: max, activeHubs: active },
      'CONFLICT',
    );
  deps.logger.info({ hubId: hub.id, partnerId, callback: callbackForLog(callback), query: hub.query }, 'event subscription registered');
  return { ...viewOf(hub, hub.createdAt), secret };
}

/** An active hub the caller may see, or HUB_NOT_FOUND. */
export async function visibleHub(deps: HubDeps, caller: Caller, id: string): Promise<HubRow> {
  const scope = hubScope(caller);
  const hub = await findActiveHub(deps.knex, id);
  if (!hub || (scope && hub.partnerId !== scope.partnerId)) throw hubNotFound(id);
  return hub;
}

export async function listHubs(deps: HubDeps, caller: Caller): Promise<HubView[]> {
  const scope = hubScope(caller);
  const now = deps.clock.now();
  return (await listActiveHubs(deps.knex, scope ? scope.partnerId : undefined)).map((hub) => viewOf(hub, now));
}

export async function getHub(deps: HubDeps, caller: Caller, id: string): Promise<HubView> {
  return viewOf(await visibleHub(deps, caller, id), deps.clock.now());
}

/**
 * Unregisters a hub: nothing more is delivered to it. Its PENDING deliveries (retrying ones and any a
 * dispatcher holds right now) become CANCELLED; a POST already on the wire may still complete.
 */
export async function deleteHub(deps: HubDeps, caller: Caller, id: string): Promise<void> {
  await visibleHub(deps, caller, id);
  const cancelled = await markHubDeleted(deps.knex, id, deps.clock.now());
  deps.logger.info({ hubId: id, cancelled }, 'event subscription deleted');
}
