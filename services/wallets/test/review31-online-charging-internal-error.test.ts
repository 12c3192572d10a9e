// review31: a reserve, commit or release that failed inside wallets (a database error) was answered over NATS with
// `error: { code: 'INTERNAL', message: <the error's own message> }`, PostgreSQL's text ("new row for relation
// "reservation" violates check constraint …", "value too long for type character varying(20)"), which usage passes
// on to the network element or partner. Now the reply says "internal error" with a reference, and the error is
// logged with that reference.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RPC, type WalletReserveReply, type WalletReserveRequest, type WalletSessionReply } from '@ledgerline/contracts';
import type { TestService } from '@ledgerline/platform';
import { T0, dbOf, openPrepaid, startWallets, uniq } from './support';
import { closeMany } from '../src/application/reservations';

const PREFIX = `${uniq('t')}.`;
let svc: TestService;
beforeAll(async () => {
  ({ svc } = await startWallets({ WALLETS_RPC_PREFIX: PREFIX }));
  // A failure only PostgreSQL knows of: a reserve of unit BOOM is never written, one of unit BOOMC is never closed.
  await dbOf(svc).query(`alter table reservation add constraint review31_fail check (unit <> 'BOOM' and (unit <> 'BOOMC' or status = 'RESERVED'))`);
});
afterAll(async () => {
  await dbOf(svc)?.query(`alter table reservation drop constraint if exists review31_fail`);
  await svc?.close();
});

const ask = async <T>(subject: string, body: unknown) => (await svc.runtime.messaging.nc.request(`${PREFIX}${subject}`, JSON.stringify(body), { timeout: 10_000 })).json<T>();
const request = (billingAccountId: string, over: Partial<WalletReserveRequest> = {}): WalletReserveRequest => ({
  requestId: uniq('req'), sessionId: uniq('ses'), billingAccountId, lineId: 'lin_1', currency: 'EUR', usageType: 'DATA', unit: 'MB', requestedUnits: '1', pricePerUnit: '0.10', allowanceIds: [], allowOverdraft: false, ...over,
});

/** The reply names no database detail, and its reference finds the logged error with the database's text. */
function expectHidden(reply: { resultCode: string; error?: { code: string; message: string } }, logged: ReturnType<typeof vi.spyOn>) {
  expect(reply).toMatchObject({ resultCode: 'RATING_FAILED', error: { code: 'INTERNAL' } });
  expect(reply.error!.message).not.toMatch(/reservation|constraint|review31|relation/);
  const ref = /^internal error \(reference (\S+)\)$/.exec(reply.error!.message)?.[1];
  expect(ref, reply.error!.message).toBeDefined();
  const entry = logged.mock.calls.find((args: unknown[]) => (args[0] as { reference?: string })?.reference === ref);
  expect(entry, 'the error is logged with the reference').toBeDefined();
  expect(String((entry![0] as { err?: Error }).err?.message)).toContain('review31_fail');
}

describe('review31: online charging answers an internal failure without its details', () => {
  it('reserve', async () => {
    const logged = vi.spyOn(svc.runtime.logger, 'error');
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    const reply = await ask<WalletReserveReply>(RPC.walletReserve, request(billingAccountId, { unit: 'BOOM' }));
    expectHidden(reply, logged);
    logged.mockRestore();
  });

  it('commit and release', async () => {
    const logged = vi.spyOn(svc.runtime.logger, 'error');
    const { billingAccountId } = await openPrepaid(svc, { balance: '10.00' });
    const held = await ask<WalletReserveReply>(RPC.walletReserve, request(billingAccountId, { unit: 'BOOMC' }));
    expect(held).toMatchObject({ resultCode: 'SUCCESS' });
    const reservationId = held.reservationId!;
    expectHidden(await ask<WalletSessionReply>(RPC.walletCommit, { reservationId, usedUnits: '1' }), logged);
    expectHidden(await ask<WalletSessionReply>(RPC.walletRelease, { reservationId }), logged);
    logged.mockRestore();
    await dbOf(svc).query(`alter table reservation drop constraint review31_fail`);
    await dbOf(svc).tx((sql) => closeMany(sql, [{ reservationId, usedUnits: '0', closing: 'RELEASED' }], T0));
  });
});
