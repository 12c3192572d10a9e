import { ConfigError, type Knex } from '@ledgerline/platform';
import type { HubConfig } from '../config';
import { isSealed, openSecret, sealSecret, SecretUnreadableError } from '../domain/secrets';
import { activeHubSecrets, hubsWithPlainSecrets, replaceStoredSecrets } from '../persistence/store';

type Deps = { knex: Knex; config: Pick<HubConfig, 'secretKey'> };

/**
 * Encrypts in place the secrets still stored in plain text (rows from before encryption, or written by
 * a replica of the previous version during a rolling upgrade). Idempotent and safe on several replicas
 * at once (a row is replaced only as it was read). Returns how many hubs it encrypted.
 */
export async function sealPlainSecrets(deps: Deps, batch = 100): Promise<number> {
  let sealed = 0;
  for (;;) {
    const hubs = await hubsWithPlainSecrets(deps.knex, batch);
    const before = sealed;
    for (const hub of hubs) {
      const seal = (s: string) => (isSealed(s) ? s : sealSecret(deps.config.secretKey, hub.id, s));
      const previous = hub.previousSecrets.map((p) => ({ ...p, secret: seal(p.secret) }));
      if (await replaceStoredSecrets(deps.knex, hub, seal(hub.secret), previous)) sealed++;
    }
    // A row changed under us is read again next pass; a pass that sealed nothing stops (no endless loop).
    if (hubs.length < batch || sealed === before) return sealed;
  }
}

/**
 * Start-up: the configured EVENTS_HUB_SECRET_KEY must open every active hub's stored secrets (a changed
 * key would sign every delivery wrongly); otherwise a ConfigError naming it, before anything is sent.
 */
export async function checkSecretKey(deps: Deps, batch = 500): Promise<void> {
  let after = '';
  for (;;) {
    const hubs = await activeHubSecrets(deps.knex, after, batch);
    for (const hub of hubs)
      try {
        for (const s of [hub.secret, ...hub.previousSecrets.map((p) => p.secret)]) openSecret(deps.config.secretKey, hub.id, s);
      } catch (error) {
        if (error instanceof SecretUnreadableError) throw new ConfigError('EVENTS_HUB_SECRET_KEY', `${error.message}; set the key the hub secrets were encrypted with`);
        throw error;
      }
    if (hubs.length < batch) return;
    after = hubs.at(-1)!.id;
  }
}
