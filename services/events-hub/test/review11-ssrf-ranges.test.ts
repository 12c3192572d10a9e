import { describe, expect, it } from 'vitest';
import { checkCallback, isInternalAddress } from '../src/domain/callback';

const publicOnly = { production: true, resolve: async () => ['93.184.215.14'] };

describe('review 11: IPv6 forms that carry an internal IPv4 address are internal too', () => {
  it.each([
    ['::7f00:1', 'IPv4-compatible ::127.0.0.1'],
    ['::a9fe:a9fe', 'IPv4-compatible ::169.254.169.254'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 of 169.254.169.254'],
    ['64:ff9b::a00:1', 'NAT64 of 10.0.0.1'],
    ['64:ff9b:1::a00:1', 'local-use NAT64'],
    ['2002:7f00:1::', '6to4 of 127.0.0.1'],
    ['2002:c0a8:101::1', '6to4 of 192.168.1.1'],
    ['fec0::1', 'site-local'],
    ['100::1', 'discard-only'],
  ])('%s (%s)', async (address) => {
    expect(isInternalAddress(address)).toBe(true);
    await expect(checkCallback(`https://[${address}]/hooks`, publicOnly)).rejects.toMatchObject({ code: 'HUB_CALLBACK_INVALID' });
  });

  it('public addresses stay allowed', () => {
    for (const address of ['8.8.8.8', '::ffff:8.8.8.8', '2001:4860:4860::8888', '2606:4700::1111']) expect(isInternalAddress(address), address).toBe(false);
  });
});
