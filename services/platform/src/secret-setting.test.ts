import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_INTERNAL_SECRET, loadServiceConfig, secretSetting } from './config';

const REAL = 'q0V3l7mJ2yR9sT4uW8xZ1aB5cD6eF0gH';

describe('secrets: development defaults never reach production', () => {
  it('development falls back to the public default (or takes what is set, placeholders included)', () => {
    expect(secretSetting({}, 'JWT_SECRET', 'dev-default')).toBe('dev-default');
    expect(secretSetting({ JWT_SECRET: 'change-me' }, 'JWT_SECRET', 'dev-default')).toBe('change-me');
    expect(loadServiceConfig('usage', {}).internalSecret).toBe(DEV_INTERNAL_SECRET);
  });

  it.each([
    ['unset', {}, /must be set in production/],
    ['the k8s template placeholder', { JWT_SECRET: 'change-me' }, /placeholder or a development secret/],
    ['the development default', { JWT_SECRET: 'dev-default' }, /placeholder or a development secret/],
    ['a development-looking secret', { JWT_SECRET: 'ledgerline-development-jwt-secret-change-me' }, /placeholder or a development secret/],
    ['too short', { JWT_SECRET: 'short-but-random-9f2' }, /at least 32 characters/],
  ])('production refuses %s, naming the setting', (_what, env, message) => {
    const run = () => secretSetting({ NODE_ENV: 'production', ...env }, 'JWT_SECRET', 'dev-default');
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
    expect(run).toThrow(/^JWT_SECRET: /);
  });

  it('production takes a real secret; every service refuses to start without one', () => {
    expect(secretSetting({ NODE_ENV: 'production', JWT_SECRET: REAL }, 'JWT_SECRET', 'dev-default')).toBe(REAL);
    expect(() => loadServiceConfig('wallets', { NODE_ENV: 'production' })).toThrow(/^LEDGERLINE_INTERNAL_SECRET: must be set in production/);
    expect(loadServiceConfig('wallets', { NODE_ENV: 'production', LEDGERLINE_INTERNAL_SECRET: REAL, METRICS_TOKEN: REAL }).internalSecret).toBe(REAL);
  });
});
