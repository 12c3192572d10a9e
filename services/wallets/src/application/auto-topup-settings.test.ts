import { describe, expect, it } from 'vitest';
import { ConfigError } from '@ledgerline/platform';
import { autoTopupRetryPolicyFromEnv } from './auto-topup-settings';
import { DEFAULT_RETRY_POLICY } from '../domain/auto-topup';

describe('WALLETS_AUTO_TOPUP_RETRY_* settings', () => {
  it('unset or empty: the default (an empty value used to read as 0)', () => {
    expect(autoTopupRetryPolicyFromEnv({})).toEqual(DEFAULT_RETRY_POLICY);
    expect(autoTopupRetryPolicyFromEnv({ WALLETS_AUTO_TOPUP_RETRY_BACKOFF_MS: '', WALLETS_AUTO_TOPUP_RETRY_MAX_PER_DAY: ' ' })).toEqual(DEFAULT_RETRY_POLICY);
  });

  it('a whole number is taken, 0 included', () => {
    expect(autoTopupRetryPolicyFromEnv({ WALLETS_AUTO_TOPUP_RETRY_BACKOFF_MS: '60000', WALLETS_AUTO_TOPUP_RETRY_MAX_PER_DAY: '0' })).toEqual({ backoffMs: 60_000, maxDeclinedPerDay: 0 });
  });

  it.each([
    ['WALLETS_AUTO_TOPUP_RETRY_BACKOFF_MS', '1h'],
    ['WALLETS_AUTO_TOPUP_RETRY_BACKOFF_MS', '-5'],
    ['WALLETS_AUTO_TOPUP_RETRY_MAX_PER_DAY', '2.5'],
    ['WALLETS_AUTO_TOPUP_RETRY_MAX_PER_DAY', 'three'],
  ])('%s=%s stops start-up naming the setting', (setting, raw) => {
    const run = () => autoTopupRetryPolicyFromEnv({ [setting]: raw });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(new RegExp(`^${setting}: "${raw.replace('.', '\\.')}" is not a whole number`));
  });
});
