import { describe, expect, it } from 'vitest';
import { walletLock } from './locks';

describe('walletLock', () => {
  it('answers only the wallets its locking statement locked: one committed between the lock and the read is left out', () => {
    const reading = walletLock([{ acc: 'acc_1', cur: 'EUR' }, { acc: 'acc_2', cur: 'EUR' }]);
    expect(reading.statements).toHaveLength(2);
    const row = (id: string) => ({ id, billing_account_id: id.replace('wal', 'acc'), currency: 'EUR', balance: '1', unbilled: '0', held: '0' });
    expect(reading.parse([[{ id: 'wal_1' }], [row('wal_1'), row('wal_2')]]).map((w) => w.id)).toEqual(['wal_1']);
  });
});
