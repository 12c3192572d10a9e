import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Hub secrets at rest: AES-256-GCM under EVENTS_HUB_SECRET_KEY, stored as
 * `v1:<iv>:<ciphertext>:<tag>` (base64url; 12-byte random IV, 16-byte tag). The hub's id is the
 * additional authenticated data, so a sealed value copied onto another hub's row does not open.
 * A value without the `v1:` marker is a plain-text secret stored before encryption (generated
 * secrets are base64url: never a ':'); it is read as it is and sealed in place (seal-secrets.ts).
 */
export const SEALED_PREFIX = 'v1:';

export const isSealed = (stored: string): boolean => stored.startsWith(SEALED_PREFIX);

const aad = (hubId: string) => Buffer.from(`ledgerline-events-hub:hub:${hubId}`, 'utf8');

/** A stored secret that the configured key cannot open (another key, another hub's value, tampered). */
export class SecretUnreadableError extends Error {
  constructor(readonly hubId: string) {
    super(`the secret of ${hubId} cannot be decrypted with EVENTS_HUB_SECRET_KEY (was the key changed?)`);
    this.name = 'SecretUnreadableError';
  }
}

export function sealSecret(key: Buffer, hubId: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(hubId));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return `${SEALED_PREFIX}${iv.toString('base64url')}:${ciphertext.toString('base64url')}:${cipher.getAuthTag().toString('base64url')}`;
}

export function openSecret(key: Buffer, hubId: string, stored: string): string {
  if (!isSealed(stored)) return stored;
  const [, iv, ciphertext, tag] = stored.split(':');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv ?? '', 'base64url'));
    decipher.setAAD(aad(hubId));
    decipher.setAuthTag(Buffer.from(tag ?? '', 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext ?? '', 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretUnreadableError(hubId);
  }
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
