import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Hub secrets at rest: AES-256-GCM under EVENTS_HUB_SECRET_KEY, stored as
 * `v1:<iv>:<ciphertext>:<tag>:<keyId>` (base64url; 12-byte random IV, 16-byte tag; keyId: keyId() of the key
 * that sealed it). The key id is a trailing field, not a new prefix, so a replica of the previous version
 * (which splits positionally and looks for `v1:`) still reads these values during a rolling upgrade instead
 * of taking them for plain text. `v1:<iv>:<ciphertext>:<tag>` without a key id (written before key ids) is
 * tried with the current key, then each previous one. The hub's id is the additional authenticated data, so
 * a sealed value copied onto another hub's row does not open. A value without the `v1:` marker is a
 * plain-text secret stored before encryption (generated secrets are base64url: never a ':'); it is read as
 * it is and sealed in place (seal-secrets.ts).
 */
export const SEALED_PREFIX = 'v1:';

export const isSealed = (stored: string): boolean => stored.startsWith(SEALED_PREFIX);

/** The configured keys: the one that seals, and the earlier ones that only open (EVENTS_HUB_PREVIOUS_SECRET_KEYS). */
export interface SecretKeys {
  current: Buffer;
  previous: readonly Buffer[];
}

/**
 * A key's public name: the first 12 hex digits of its SHA-256 (`base64 -d | sha256sum`). Safe to log and
 * store: a hash of 32 random bytes tells nothing of them.
 */
export const keyId = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 12);

/** The key id a sealed value names (null: plain text, or sealed before key ids). */
export function sealedKeyId(stored: string): string | null {
  if (!isSealed(stored)) return null;
  return stored.split(':')[4] ?? null;
}

/** Whether the re-seal pass rewrites `stored`: plain text, no key id, or a key other than the current one. */
export const needsReseal = (currentKeyId: string, stored: string): boolean => sealedKeyId(stored) !== currentKeyId;

const aad = (hubId: string) => Buffer.from(`ledgerline-events-hub:hub:${hubId}`, 'utf8');

/**
 * A stored secret that the configured keys cannot open: sealed under a key no longer configured
 * (`keyId` names it), or under one that is configured but does not open it (another hub's value, tampered).
 */
export class SecretUnreadableError extends Error {
  constructor(
    readonly hubId: string,
    readonly keyId: string | null,
    readonly keyConfigured: boolean,
  ) {
    super(
      keyId && !keyConfigured
        ? `the secret of ${hubId} is sealed under key id ${keyId}, which is neither EVENTS_HUB_SECRET_KEY nor in EVENTS_HUB_PREVIOUS_SECRET_KEYS`
        : `the secret of ${hubId} cannot be decrypted with ${keyId ? `key id ${keyId}` : 'EVENTS_HUB_SECRET_KEY or EVENTS_HUB_PREVIOUS_SECRET_KEYS'} (was the key changed, or the value moved or altered?)`,
    );
    this.name = 'SecretUnreadableError';
  }
}

export function sealSecret(key: Buffer, hubId: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(hubId));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return `${SEALED_PREFIX}${iv.toString('base64url')}:${ciphertext.toString('base64url')}:${tag.toString('base64url')}:${keyId(key)}`;
}

function decrypt(key: Buffer, hubId: string, iv: string, ciphertext: string, tag: string): string | null {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(aad(hubId));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** Opens a stored secret with the key it names (a value without a key id: the current key, then each previous one). */
export function openSecret(keys: SecretKeys, hubId: string, stored: string): string {
  if (!isSealed(stored)) return stored;
  const [, iv = '', ciphertext = '', tag = '', id] = stored.split(':');
  const all = [keys.current, ...keys.previous];
  const candidates = id ? all.filter((k) => keyId(k) === id) : all;
  for (const key of candidates) {
    const secret = decrypt(key, hubId, iv, ciphertext, tag);
    if (secret !== null) return secret;
  }
  throw new SecretUnreadableError(hubId, id ?? null, !id || candidates.length > 0);
}

/** A secret replaced by a rotation, still signed with until `expiresAt` (the rotation + the overlap). */
export interface PreviousSecret<S = string> {
  secret: S;
  expiresAt: Date;
}

/** Previous secrets kept at most: a rotation repeated because its answer was lost still signs with the one the receiver has. */
export const MAX_PREVIOUS_SECRETS = 2;

/**
 * The previous secrets after `current` is replaced at `now`: it is kept for `overlapMs` (0: not at all),
 * newest first, ahead of the earlier ones still in their window, at most MAX_PREVIOUS_SECRETS.
 */
export function afterRotation<S>(current: S, previous: readonly PreviousSecret<S>[], now: Date, overlapMs: number): PreviousSecret<S>[] {
  const kept = previous.filter((p) => p.expiresAt.getTime() > now.getTime());
  if (overlapMs <= 0) return kept.slice(0, MAX_PREVIOUS_SECRETS);
  return [{ secret: current, expiresAt: new Date(now.getTime() + overlapMs) }, ...kept].slice(0, MAX_PREVIOUS_SECRETS);
}

/** The secrets a delivery at `now` is signed with: the current one first, then each previous one still in its window. */
export function secretsInForce<S>(current: S, previous: readonly PreviousSecret<S>[], now: Date): S[] {
  return [current, ...previous.filter((p) => p.expiresAt.getTime() > now.getTime()).map((p) => p.secret)];
}

/** When the last previous secret stops being signed with (null: none is any more). */
export function previousSecretExpiresAt(previous: readonly PreviousSecret<unknown>[], now: Date): Date | null {
  const live = previous.filter((p) => p.expiresAt.getTime() > now.getTime()).map((p) => p.expiresAt.getTime());
  return live.length ? new Date(Math.max(...live)) : null;
}
