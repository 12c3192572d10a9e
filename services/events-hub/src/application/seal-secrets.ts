import { ConfigError, type Knex, type Logger } from '@ledgerline/platform';
import { hubSecretKeys, type HubConfig } from '../config';
import { keyId, needsReseal, openSecret, sealSecret, SecretUnreadableError, type SecretKeys } from '../domain/secrets';
import { activeHubSecrets, lockHubsToReseal, storeResealedSecrets, type HubRow } from '../persistence/store';

type Deps = { knex: Knex; config: Pick<HubConfig, 'secretKey' | 'previousSecretKeys'> };

export interface ResealReport {
  /** Hubs whose stored values were rewritten under the current key. */
  resealed: number;
  /** Active hubs left as they are because no configured key opens one of their values (each names its hub and key id). */
  unreadable: SecretUnreadableError[];
}

/** The hub's values, each one sealed under the current key (opened with the key it names first). */
function resealed(keys: SecretKeys, hub: HubRow): { secret: string; previousSecrets: HubRow['previousSecrets'] } {
  const current = keyId(keys.current);
  const reseal = (s: string) => (needsReseal(current, s) ? sealSecret(keys.current, hub.id, openSecret(keys, hub.id, s)) : s);
  return { secret: reseal(hub.secret), previousSecrets: hub.previousSecrets.map((p) => ({ ...p, secret: reseal(p.secret) })) };
}

/**
 * The re-seal pass: rewrites under EVENTS_HUB_SECRET_KEY every stored value that is plain text (from before
 * encryption), sealed before key ids, or sealed under a previous key. One transaction per batch, rows locked
 * with SKIP LOCKED (two replicas take different rows; a row being rotated is left for the next pass), walked
 * by id so a value no key opens never holds the pass up. Idempotent: a value under the current key is not touched.
 * A deleted hub's unreadable value is skipped without a report (it is never sent with).
 */
export async function resealSecrets(deps: Deps, batch = 100): Promise<ResealReport> {
  const keys = hubSecretKeys(deps.config);
  const current = keyId(keys.current);
  const report: ResealReport = { resealed: 0, unreadable: [] };
  let after = '';
  for (;;) {
    const hubs = await deps.knex.transaction(async (trx) => {
      const locked = await lockHubsToReseal(trx, current, after, batch);
      for (const hub of locked)
        try {
          const next = resealed(keys, hub);
          await storeResealedSecrets(trx, hub.id, next.secret, next.previousSecrets);
          report.resealed++;
        } catch (error) {
          if (!(error instanceof SecretUnreadableError)) throw error;
          if (hub.status === 'ACTIVE') report.unreadable.push(error);
        }
      return locked;
    });
    if (hubs.length < batch) return report;
    after = hubs.at(-1)!.id;
  }
}

/**
 * Start-up, before anything is signed: every active hub's stored values are opened with the configured keys.
 * A hub whose value no configured key opens is logged (hub id, key id) and its deliveries fail with that
 * reason, the others go on. But when there are such values and the keys open none at all, the key was
 * replaced instead of rotated: a ConfigError naming EVENTS_HUB_SECRET_KEY, before anything is sent.
 * Returns the active hubs left unreadable.
 */
export async function checkSecretKeys(deps: Deps & { logger: Logger }, batch = 500): Promise<SecretUnreadableError[]> {
  const keys = hubSecretKeys(deps.config);
  const unreadable: SecretUnreadableError[] = [];
  let opened = 0;
  let after = '';
  for (;;) {
    const hubs = await activeHubSecrets(deps.knex, after, batch);
    for (const hub of hubs)
      try {
        for (const s of [hub.secret, ...hub.previousSecrets.map((p) => p.secret)]) openSecret(keys, hub.id, s);
        opened++;
      } catch (error) {
        if (!(error instanceof SecretUnreadableError)) throw error;
        unreadable.push(error);
      }
    if (hubs.length < batch) break;
    after = hubs.at(-1)!.id;
  }
  if (unreadable.length && !opened) {
    const ids = [...new Set(unreadable.map((e) => e.keyId ?? 'none'))].join(', ');
    throw new ConfigError(
      'EVENTS_HUB_SECRET_KEY',
      `opens none of the ${unreadable.length} active hubs' secrets (sealed under key id ${ids}; configured: ${[keys.current, ...keys.previous].map(keyId).join(', ')}); ` +
        'set the key they were sealed with, or keep it in EVENTS_HUB_PREVIOUS_SECRET_KEYS while rotating',
    );
  }
  for (const e of unreadable)
    deps.logger.warn(
      { hubId: e.hubId, keyId: e.keyId },
      `hub secret unreadable: ${e.message}; its deliveries fail until that key is configured again (EVENTS_HUB_PREVIOUS_SECRET_KEYS)`,
    );
  return unreadable;
}
