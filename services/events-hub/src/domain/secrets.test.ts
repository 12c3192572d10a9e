import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@ledgerline/platform';
import { loadHubConfig } from '../config';
import { signatureHeader, signDelivery } from './delivery';
import { afterRotation, keyId, needsReseal, openSecret, previousSecretExpiresAt, sealSecret, secretsInForce, SecretUnreadableError } from './secrets';

const key = randomBytes(32);
const keys = { current: key, previous: [] };
const HOUR = 3_600_000;
const t0 = new Date('2026-12-10T00:00:00Z');

describe('hub secrets sealed with AES-256-GCM', () => {
  it('round-trips, never stores the secret, and differs each time (random IV)', () => {
    const sealed = sealSecret(key, 'hub_1', 'the-secret');
    expect(sealed).toMatch(/^v1:/);
    expect(sealed).not.toContain('the-secret');
    expect(sealSecret(key, 'hub_1', 'the-secret')).not.toBe(sealed);
    expect(openSecret(keys, 'hub_1', sealed)).toBe('the-secret');
  });
  it('refuses another key, another hub (moved ciphertext) and a tampered value', () => {
    const sealed = sealSecret(key, 'hub_1', 'the-secret');
    expect(() => openSecret({ current: randomBytes(32), previous: [] }, 'hub_1', sealed)).toThrow(SecretUnreadableError);
    expect(() => openSecret(keys, 'hub_2', sealed)).toThrow(SecretUnreadableError);
    const parts = sealed.split(':');
    const ciphertext = Buffer.from(parts[2]!, 'base64url');
    ciphertext[0] = ciphertext[0]! ^ 1;
    parts[2] = ciphertext.toString('base64url');
    expect(() => openSecret(keys, 'hub_1', parts.join(':'))).toThrow(SecretUnreadableError);
  });
  it('reads a plain-text value from before encryption as it is', () => {
    expect(openSecret(keys, 'hub_1', 'plain_base64url-secret')).toBe('plain_base64url-secret');
  });
});

describe('key ids: rotating EVENTS_HUB_SECRET_KEY', () => {
  const old = randomBytes(32);
  it('a value names the key that sealed it; a previous key still opens it, an unconfigured one is named in the error', () => {
    const sealed = sealSecret(old, 'hub_1', 'the-secret');
    expect(sealed.split(':')).toHaveLength(5);
    expect(sealed.endsWith(`:${keyId(old)}`)).toBe(true);
    expect(keyId(old)).toMatch(/^[0-9a-f]{12}$/);
    expect(openSecret({ current: key, previous: [old] }, 'hub_1', sealed)).toBe('the-secret');
    expect(needsReseal(keyId(key), sealed)).toBe(true);
    expect(needsReseal(keyId(old), sealed)).toBe(false);
    expect(needsReseal(keyId(key), 'plain-text')).toBe(true);
    let error: unknown;
    try {
      openSecret(keys, 'hub_1', sealed);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SecretUnreadableError);
    expect((error as SecretUnreadableError).keyId).toBe(keyId(old));
    expect((error as Error).message).toMatch(new RegExp(`${keyId(old)}.*EVENTS_HUB_PREVIOUS_SECRET_KEYS`));
  });
  it('a value sealed before key ids (v1:<iv>:<ciphertext>:<tag>) opens with the current or any previous key', () => {
    const legacy = sealSecret(old, 'hub_1', 'the-secret').split(':').slice(0, 4).join(':');
    expect(openSecret({ current: key, previous: [old] }, 'hub_1', legacy)).toBe('the-secret');
    expect(openSecret({ current: old, previous: [] }, 'hub_1', legacy)).toBe('the-secret');
    expect(() => openSecret(keys, 'hub_1', legacy)).toThrow(SecretUnreadableError);
    expect(needsReseal(keyId(old), legacy)).toBe(true);
  });
});

describe('rotation overlap', () => {
  it('keeps the replaced secret until now + overlap, newest first, at most two, dropping expired ones', () => {
    const one = afterRotation('s0', [], t0, 24 * HOUR);
    expect(one).toEqual([{ secret: 's0', expiresAt: new Date(t0.getTime() + 24 * HOUR) }]);
    const t1 = new Date(t0.getTime() + HOUR);
    const two = afterRotation('s1', one, t1, 24 * HOUR);
    expect(two.map((p) => p.secret)).toEqual(['s1', 's0']);
    expect(afterRotation('s2', two, t1, 24 * HOUR).map((p) => p.secret)).toEqual(['s2', 's1']);
    expect(afterRotation('s1', one, new Date(t0.getTime() + 24 * HOUR), 24 * HOUR).map((p) => p.secret)).toEqual(['s1']);
    expect(afterRotation('s0', [], t0, 0)).toEqual([]);
  });
  it('signs with the current secret and each previous one still in its window', () => {
    const previous = [{ secret: 'old', expiresAt: new Date(t0.getTime() + HOUR) }];
    expect(secretsInForce('new', previous, t0)).toEqual(['new', 'old']);
    expect(secretsInForce('new', previous, new Date(t0.getTime() + HOUR))).toEqual(['new']);
    expect(previousSecretExpiresAt(previous, t0)).toEqual(new Date(t0.getTime() + HOUR));
    expect(previousSecretExpiresAt(previous, new Date(t0.getTime() + HOUR))).toBeNull();
    expect(signatureHeader(['new', 'old'], 1700000000, '{}')).toBe(`${signDelivery('new', 1700000000, '{}')}, ${signDelivery('old', 1700000000, '{}')}`);
    expect(signatureHeader(['new'], 1700000000, '{}')).toBe(`sha256=${createHmac('sha256', 'new').update('1700000000.{}').digest('hex')}`);
  });
});

describe('EVENTS_HUB_SECRET_KEY and EVENTS_HUB_SECRET_OVERLAP_HOURS', () => {
  const base = { DATABASE_URL: 'postgres://x@127.0.0.1/test' };
  // Every other secret production asks for, set: only the hub key is under test.
  const production = { ...base, NODE_ENV: 'production', JWT_SECRET: randomBytes(32).toString('base64'), METRICS_TOKEN: randomBytes(32).toString('base64') };
  const setting = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return error instanceof ConfigError ? error.setting : error;
    }
    return 'accepted';
  };
  it('development has a fixed key; production requires a real one of 32 bytes (base64 or hex)', () => {
    expect(loadHubConfig(base).secretKey).toHaveLength(32);
    const dev = loadHubConfig(base).secretKey;
    expect(setting(() => loadHubConfig(production))).toBe('EVENTS_HUB_SECRET_KEY');
    expect(setting(() => loadHubConfig({ ...production, EVENTS_HUB_SECRET_KEY: 'change-me' }))).toBe('EVENTS_HUB_SECRET_KEY');
    expect(setting(() => loadHubConfig({ ...production, EVENTS_HUB_SECRET_KEY: dev.toString('hex') }))).toBe('EVENTS_HUB_SECRET_KEY');
    expect(setting(() => loadHubConfig({ ...production, EVENTS_HUB_SECRET_KEY: randomBytes(40).toString('base64') }))).toBe('EVENTS_HUB_SECRET_KEY');
    expect(setting(() => loadHubConfig({ ...base, EVENTS_HUB_SECRET_KEY: 'short' }))).toBe('EVENTS_HUB_SECRET_KEY');
    const raw = randomBytes(32);
    expect(loadHubConfig({ ...production, EVENTS_HUB_SECRET_KEY: raw.toString('base64') }).secretKey.equals(raw)).toBe(true);
    expect(loadHubConfig({ ...production, EVENTS_HUB_SECRET_KEY: raw.toString('hex') }).secretKey.equals(raw)).toBe(true);
  });
  it('the overlap is 24 hours unless set (0: none); anything else is refused', () => {
    expect(loadHubConfig(base).secretOverlapHours).toBe(24);
    expect(loadHubConfig({ ...base, EVENTS_HUB_SECRET_OVERLAP_HOURS: '0' }).secretOverlapHours).toBe(0);
    expect(setting(() => loadHubConfig({ ...base, EVENTS_HUB_SECRET_OVERLAP_HOURS: '1.5' }))).toBe('EVENTS_HUB_SECRET_OVERLAP_HOURS');
  });
});
