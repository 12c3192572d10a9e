import type { Caller } from '@ledgerline/contracts';
import { afterRotation, isSealed, sealSecret } from '../domain/secrets';
import { lockActiveHub, updateHubSecrets } from '../persistence/store';
import { hubNotFound, hubScope } from './authorization';
import type { HubDeps } from './deps';
import { newHubSecret, viewOf, visibleHub, type HubView } from './hubs';

const HOUR_MS = 3_600_000;

/**
 * Gives a hub a new secret, in force at once; the one it replaces still signs deliveries (next to the
 * new one) for EVENTS_HUB_SECRET_OVERLAP_HOURS, so the partner switches its receiver without a gap.
 * Only the hub's partner or an ADMIN; the new secret is in this answer and nowhere else.
 */
export async function rotateHubSecret(deps: HubDeps, caller: Caller, id: string): Promise<HubView & { secret: string }> {
  await visibleHub(deps, caller, id);
  const scope = hubScope(caller);
  const now = deps.clock.now();
  const secret = newHubSecret();
  const hub = await deps.knex.transaction(async (trx) => {
    // Locked: two rotations at once keep each other's secrets in the overlap instead of losing one.
    const current = await lockActiveHub(trx, id);
    if (!current || (scope && current.partnerId !== scope.partnerId)) throw hubNotFound(id);
    // A plain-text secret from before encryption is encrypted as it moves into the overlap.
    const seal = (s: string) => (isSealed(s) ? s : sealSecret(deps.config.secretKey, id, s));
    const previousSecrets = afterRotation(
      seal(current.secret),
      current.previousSecrets.map((p) => ({ ...p, secret: seal(p.secret) })),
      now,
      deps.config.secretOverlapHours * HOUR_MS,
    );
    const sealed = sealSecret(deps.config.secretKey, id, secret);
    await updateHubSecrets(trx, id, { secret: sealed, previousSecrets, rotatedAt: now });
    return { ...current, secret: sealed, previousSecrets, secretRotatedAt: now };
  });
  deps.logger.info({ hubId: id, partnerId: hub.partnerId, previousSecrets: hub.previousSecrets.length }, 'event subscription secret rotated');
  return { ...viewOf(hub, now), secret };
}
