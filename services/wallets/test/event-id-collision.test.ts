/**
 * Two different events of one CloudEvents type given the same key get the same id; the outbox
 * used to keep the first and drop the second without a trace (a payout's return once vanished
 * behind the payout). The raw outbox write now refuses it (EVENT_ID_COLLISION) and the whole
 * transaction rolls back, while a replay of the same event stays a no-op.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestService } from '@ledgerline/platform';
import { eventRow, insertOutbox, type Db } from '../src/persistence/sql';
import { dbOf, startWallets, uniq } from './support';

let svc: TestService;
let db: Db;
beforeAll(async () => {
  ({ svc } = await startWallets());
  db = dbOf(svc);
});
afterAll(async () => {
  await svc?.close();
});

const T = new Date('2026-11-28T12:00:00.000Z');
const rowsWithId = async (id: string) => db.query<{ subject: string; payload: string }>(`select subject, payload from outbox where id = $1`, [id]);

describe('outbox event ids', () => {
  it('a replay of the same event is kept once; another event with the same id is refused and its transaction rolls back', async () => {
    const payout = uniq('payout');
    const paidOut = eventRow('walletPaidOut', `wallet:${payout}`, [payout], T, { payoutId: payout });
    await db.tx((sql) => insertOutbox(sql, [paidOut]));
    await db.tx((sql) => insertOutbox(sql, [eventRow('walletPaidOut', `wallet:${payout}`, [payout], new Date(T.getTime() + 1000), { payoutId: payout })]));
    expect(await rowsWithId(paidOut.id)).toEqual([{ subject: 'billing.wallets.wallet.paidout', payload: paidOut.payload }]);

    // The payout return's first key: the payout's own; a statement before it in the transaction must not stay.
    const returned = eventRow('walletPayoutReturned', `wallet:${payout}`, [payout], T, { payoutId: payout });
    expect(returned.id).toBe(paidOut.id);
    const marker = uniq('marker');
    const error = await db
      .tx(async (sql) => {
        await insertOutbox(sql, [eventRow('walletSettled', `wallet:${marker}`, [marker], T, {})]);
        await insertOutbox(sql, [returned]);
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EVENT_ID_COLLISION', category: 'INTERNAL', details: { id: paidOut.id, subject: 'billing.wallets.wallet.payoutreturned', takenBy: 'billing.wallets.wallet.paidout' } });
    expect(await rowsWithId(paidOut.id)).toEqual([{ subject: 'billing.wallets.wallet.paidout', payload: paidOut.payload }]);
    expect(await rowsWithId(eventRow('walletSettled', `wallet:${marker}`, [marker], T, {}).id)).toEqual([]);
  });

  it('two events with one id in the same write are refused before anything is written', async () => {
    const key = uniq('both');
    const settled = eventRow('walletSettled', `wallet:${key}`, [key], T, {});
    const closed = eventRow('walletClosed', `wallet:${key}`, [key], T, {});
    expect(closed.id).toBe(settled.id);
    await expect(db.tx((sql) => insertOutbox(sql, [settled, closed]))).rejects.toMatchObject({ code: 'EVENT_ID_COLLISION' });
    expect(await rowsWithId(settled.id)).toEqual([]);
  });
});
